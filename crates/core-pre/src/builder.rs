//! [`ClientBuilder`]: assembles modules, inline handlers, middleware, callbacks and
//! settings into a [`Client`] and the [`ClientRunner`] that drives it.
//!
//! Module handles come back typed from the build itself ([`ClientBuilder::spawn_with`],
//! [`ClientBuilder::build_with`]): a handle exists only for a module that was added, so
//! looking one up cannot fail at run time.

use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{Client, ClientParts};
use crate::config::{ClientConfig, KeepAlive};
use crate::connector::Connector;
use crate::control;
use crate::inbox;
use crate::link::{ConnectionWatch, Link, Outbound};
use crate::message::Message;
use crate::middleware::{Middleware, MiddlewareContext, MiddlewareStack};
use crate::module::{Module, ModuleContext};
use crate::reconnect::{ConnectCallback, ReconnectPolicy};
use crate::router::{HandlerContext, InlineHandler, Route, RouteStats, Router};
use crate::runner::{ClientRunner, RunnerParts};
use crate::runtime::{self, BoxFnOnce, MaybeSend, TaskHandle};
use crate::state::AppState;
use crate::supervisor::{ModuleHealth, RestartPolicy, Supervised, supervise};

/// Adds modules while a client is built, handing back each one's typed handle. See
/// [`ClientBuilder::spawn_with`].
pub struct Modules<S: AppState> {
    state: Arc<S>,
    link: Arc<Link>,
    outbound: Outbound,
    config: ClientConfig,
    names: HashSet<&'static str>,
    routes: Vec<Route>,
    reconnect_callbacks: Vec<Arc<dyn ConnectCallback<S>>>,
    starters: Vec<BoxFnOnce<TaskHandle<()>>>,
    health: Vec<Arc<ModuleHealth>>,
}

struct ModuleTask<M, S>(M, PhantomData<fn() -> S>);

impl<S: AppState, M: Module<S>> Supervised for ModuleTask<M, S> {
    fn run_once(&mut self) -> impl Future<Output = Result<(), crate::BoxError>> + MaybeSend + '_ {
        self.0.run()
    }
}

impl<S: AppState> Modules<S> {
    /// Adds module `M` and returns its handle.
    pub fn add<M: Module<S>>(&mut self) -> M::Handle {
        if !self.names.insert(M::NAME) {
            tracing::warn!(
                module = M::NAME,
                "module added twice; both copies run and receive its messages"
            );
        }
        let (inbox_tx, inbox) = inbox::channel(self.config.inbox_capacity());
        let (module, handle) = M::new(ModuleContext {
            state: self.state.clone(),
            inbox,
            outbound: self.outbound.clone(),
            connection: self.link.connection_watch(),
            link: self.link.clone(),
            name: M::NAME,
            stall_timeout: self.config.stall_timeout,
        });
        self.routes
            .push(Route::new(M::NAME, M::rule(&self.state), inbox_tx));
        if let Some(callback) = M::on_reconnect(&self.state) {
            self.reconnect_callbacks.push(callback);
        }
        let health = ModuleHealth::new(M::NAME);
        self.health.push(health.clone());
        let restart = self.config.restart.clone();
        let shutdown = self.link.watch_shutdown();
        let task = ModuleTask::<M, S>(module, PhantomData);
        self.starters.push(Box::new(move || {
            runtime::spawn(supervise(task, health, restart, shutdown))
        }));
        handle
    }

    /// The shared application state.
    pub fn state(&self) -> &Arc<S> {
        &self.state
    }
}

type Registration<S> = Box<dyn FnOnce(&mut Modules<S>)>;

/// Builds a [`Client`] and the [`ClientRunner`] that drives it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use core_pre::memory::MemoryServer;
/// use core_pre::{ClientBuilder, HandlerContext, Message, ReconnectPolicy};
/// use std::time::Duration;
///
/// let server = MemoryServer::new();
/// let client = ClientBuilder::new(server.connector())
///     .with_reconnect_policy(ReconnectPolicy::default().with_max_delay(Duration::from_secs(5)))
///     .with_inline_handler(|msg: &Message, _ctx: &HandlerContext<()>| {
///         println!("got {msg:?}");
///     })
///     .spawn();
/// # let _peer = server.accept().await;
/// client.wait_connected(Duration::from_secs(5)).await.unwrap();
/// client.shutdown().await.unwrap(); // also joins the runner
/// # }
/// ```
pub struct ClientBuilder<S: AppState = ()> {
    connector: Box<dyn Connector<S>>,
    link: Arc<Link>,
    state: Arc<S>,
    config: ClientConfig,
    registrations: Vec<Registration<S>>,
    handlers: Vec<Box<dyn InlineHandler<S>>>,
    middleware: Vec<Box<dyn Middleware<S>>>,
    connect_callbacks: Vec<Arc<dyn ConnectCallback<S>>>,
    reconnect_callbacks: Vec<Arc<dyn ConnectCallback<S>>>,
}

impl ClientBuilder<()> {
    /// A builder for a client without shared state.
    pub fn new(connector: impl Connector<()>) -> Self {
        ClientBuilder::with_state(connector, ())
    }
}

impl<S: AppState> ClientBuilder<S> {
    /// A builder for a client whose modules share `state`.
    pub fn with_state(connector: impl Connector<S>, state: S) -> Self {
        ClientBuilder::with_state_fn(connector, |_| state)
    }

    /// A builder whose shared state is made from the client's [`ConnectionWatch`]: for
    /// state that holds connection-bound parts, such as
    /// [`PendingRequests`](crate::PendingRequests).
    ///
    /// ```
    /// use core_pre::memory::MemoryServer;
    /// use core_pre::{AppState, ClientBuilder, PendingRequests};
    ///
    /// struct Rpc {
    ///     pending: PendingRequests<u64, String>,
    /// }
    /// impl AppState for Rpc {}
    ///
    /// let builder = ClientBuilder::with_state_fn(MemoryServer::new().connector(), |watch| Rpc {
    ///     pending: PendingRequests::new(watch, 64),
    /// });
    /// # drop(builder);
    /// ```
    pub fn with_state_fn(
        connector: impl Connector<S>,
        make: impl FnOnce(ConnectionWatch) -> S,
    ) -> Self {
        let link = Link::new();
        let state = Arc::new(make(link.connection_watch()));
        ClientBuilder {
            connector: Box::new(connector),
            link,
            state,
            config: ClientConfig::default(),
            registrations: Vec::new(),
            handlers: Vec::new(),
            middleware: Vec::new(),
            connect_callbacks: Vec::new(),
            reconnect_callbacks: Vec::new(),
        }
    }

    /// Adds module `M` whose handle is not needed (to get handles, add modules in
    /// [`spawn_with`](Self::spawn_with) or [`build_with`](Self::build_with)).
    pub fn with_module<M: Module<S>>(mut self) -> Self {
        self.registrations
            .push(Box::new(|modules: &mut Modules<S>| {
                drop(modules.add::<M>())
            }));
        self
    }

    /// Adds a handler that sees every inbound message inline, in the reader.
    pub fn with_inline_handler(mut self, handler: impl InlineHandler<S>) -> Self {
        self.handlers.push(Box::new(handler));
        self
    }

    /// Adds a middleware; hooks run in the order middleware are added.
    pub fn with_middleware(mut self, middleware: impl Middleware<S>) -> Self {
        self.middleware.push(Box::new(middleware));
        self
    }

    /// Runs `callback` after every successful connection, the first one included.
    pub fn on_connect(mut self, callback: impl ConnectCallback<S>) -> Self {
        self.connect_callbacks.push(Arc::new(callback));
        self
    }

    /// Runs `callback` after every reconnection (not the first connection), before
    /// modules see the new traffic. Callbacks run in order: `on_connect` ones, then
    /// `on_reconnect` ones, then the modules' own ([`Module::on_reconnect`]).
    pub fn on_reconnect(mut self, callback: impl ConnectCallback<S>) -> Self {
        self.reconnect_callbacks.push(Arc::new(callback));
        self
    }

    /// Sets the reconnect policy.
    pub fn with_reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.config.reconnect = policy;
        self
    }

    /// Sets how failed modules are restarted.
    pub fn with_restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.config.restart = policy;
        self
    }

    /// Sets the outbound queue size (at least 1).
    pub fn with_outbound_capacity(mut self, capacity: usize) -> Self {
        self.config.outbound_capacity = capacity;
        self
    }

    /// Sets each module's inbox size (at least 1).
    pub fn with_inbox_capacity(mut self, capacity: usize) -> Self {
        self.config.inbox_capacity = capacity;
        self
    }

    /// Sets how long the reader waits for a full module inbox (see the router docs).
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.config.stall_timeout = timeout;
        self
    }

    /// Sets the limit on one connection attempt.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Sets (or with `None` disables) dead-peer detection by read timeout.
    pub fn with_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// Sends `message` every `interval` while connected.
    pub fn with_keep_alive(mut self, interval: Duration, message: Message) -> Self {
        self.config.keep_alive = Some(KeepAlive { interval, message });
        self
    }

    /// Sends no keep-alive.
    pub fn without_keep_alive(mut self) -> Self {
        self.config.keep_alive = None;
        self
    }

    /// Sets the limit on each connect/reconnect callback.
    pub fn with_callback_timeout(mut self, timeout: Duration) -> Self {
        self.config.callback_timeout = timeout;
        self
    }

    /// Sets how long a send waits for room in a full outbound queue.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.config.send_timeout = timeout;
        self
    }

    /// Sets how long `connect()`/`reconnect()` wait for the connection.
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.config.wait_timeout = timeout;
        self
    }

    /// Sets how long shutdown waits for modules (and a spawned runner) before aborting
    /// them.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Whether the runner connects as soon as it starts (default true). If false, the
    /// client waits for [`Client::connect`].
    pub fn with_connect_on_start(mut self, connect: bool) -> Self {
        self.config.connect_on_start = connect;
        self
    }

    /// Replaces the whole configuration, including policies set earlier.
    pub fn with_config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The shared application state.
    pub fn state(&self) -> &Arc<S> {
        &self.state
    }

    /// Builds the client and spawns its runner; [`Client::shutdown`] joins it.
    pub fn spawn(self) -> Client<S> {
        self.spawn_with(|_| ()).0
    }

    /// Builds the client, adding modules with `add` (which returns their handles), and
    /// spawns its runner; [`Client::shutdown`] joins it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use std::sync::Arc;
    /// # use core_pre::{BoxError, Module, ModuleContext};
    /// # struct Echo;
    /// # impl Module<()> for Echo {
    /// #     type Handle = &'static str;
    /// #     const NAME: &'static str = "echo";
    /// #     fn new(_: ModuleContext<()>) -> (Self, &'static str) { (Echo, "echo handle") }
    /// #     async fn run(&mut self) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// use core_pre::memory::MemoryServer;
    /// use core_pre::ClientBuilder;
    ///
    /// let (client, echo) = ClientBuilder::new(MemoryServer::new().connector())
    ///     .spawn_with(|modules| modules.add::<Echo>());
    /// assert_eq!(echo, "echo handle");
    /// client.shutdown().await.unwrap();
    /// # }
    /// ```
    pub fn spawn_with<H>(self, add: impl FnOnce(&mut Modules<S>) -> H) -> (Client<S>, H) {
        let (client, runner, handles) = self.build_with(add);
        client.adopt_runner(runner.spawn());
        (client, handles)
    }

    /// Builds the client and its runner without spawning it: run it yourself
    /// (`runner.spawn()`, or `runtime::spawn(runner.run())`); the client does nothing
    /// until it runs, and its `shutdown` does not join it.
    pub fn build(self) -> (Client<S>, ClientRunner<S>) {
        let (client, runner, ()) = self.build_with(|_| ());
        (client, runner)
    }

    /// [`build`](Self::build), adding modules with `add` (which returns their handles).
    pub fn build_with<H>(
        self,
        add: impl FnOnce(&mut Modules<S>) -> H,
    ) -> (Client<S>, ClientRunner<S>, H) {
        let config = self.config;
        let link = self.link;
        let (outbound_tx, outbound_rx) = mpsc::channel(config.outbound_capacity());
        let (control_tx, control_rx) = control::channel();
        let outbound = Outbound::new(outbound_tx, link.clone(), config.send_timeout);
        let mut modules = Modules {
            state: self.state.clone(),
            link: link.clone(),
            outbound: outbound.clone(),
            config: config.clone(),
            names: HashSet::new(),
            routes: Vec::new(),
            reconnect_callbacks: self.reconnect_callbacks,
            starters: Vec::new(),
            health: Vec::new(),
        };
        for register in self.registrations {
            register(&mut modules);
        }
        let handles = add(&mut modules);

        let route_stats: Vec<(&'static str, Arc<RouteStats>)> =
            modules.routes.iter().map(Route::stats).collect();
        let router = Router::new(
            modules.routes,
            self.handlers,
            HandlerContext {
                state: self.state.clone(),
                outbound: outbound.clone(),
            },
            config.stall_timeout,
        );
        let middleware = MiddlewareStack::new(
            self.middleware,
            MiddlewareContext {
                state: self.state.clone(),
                outbound: outbound.clone(),
            },
        );
        let client = Client::new(ClientParts {
            link: link.clone(),
            outbound: outbound.clone(),
            control: control_tx,
            state: self.state.clone(),
            health: modules.health,
            route_stats,
            wait_timeout: config.wait_timeout,
            shutdown_timeout: config.shutdown_timeout,
        });
        let runner = ClientRunner::new(
            RunnerParts {
                connector: self.connector,
                state: self.state,
                link,
                config,
                control: control_rx,
                outbound,
                router,
                middleware: Arc::new(middleware),
                connect_callbacks: self.connect_callbacks,
                reconnect_callbacks: modules.reconnect_callbacks,
                starters: modules.starters,
            },
            outbound_rx,
        );
        (client, runner, handles)
    }
}
