//! [`ClientBuilder`]: assembles modules, handlers, middleware, callbacks and settings into a
//! [`Client`] and its [`ClientRunner`].

use std::any::TypeId;
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::{AnyHandle, Client};
use crate::connector::Connector;
use crate::link::{Link, Outbound};
use crate::message::Message;
use crate::middleware::{Middleware, MiddlewareContext, MiddlewareStack};
use crate::module::{
    ApiModule, Commander, Commands, HandleContext, Inbox, LightweightContext, LightweightModule,
    ModuleContext,
};
use crate::reconnect::{ReconnectCallback, ReconnectPolicy};
use crate::router::{HandlerContext, LightweightHandler, Route, RouteStats, Router};
use crate::runner::ClientRunner;
use crate::runtime::{self, MaybeSend, TaskHandle};
use crate::state::AppState;
use crate::supervisor::{ModuleHealth, RestartPolicy, Supervised, supervise};

/// A message sent at a fixed interval while connected, to keep the connection (and its
/// intermediaries) alive and to give the read timeout something to hear.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    /// Time between two keep-alive messages.
    pub interval: Duration,
    /// The message (a WebSocket ping natively; browsers need an application message).
    pub message: Message,
}

/// Every tunable of a client. Set through [`ClientBuilder`] methods.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Outbound queue size (default 256).
    pub outbound_capacity: usize,
    /// Each module's inbox size (default 1024).
    pub inbox_capacity: usize,
    /// Each module's command queue size (default 64).
    pub command_capacity: usize,
    /// How long the reader waits for room in a full module inbox (default 100 ms).
    pub stall_timeout: Duration,
    /// Limit on one connection attempt (default 10 s).
    pub connect_timeout: Duration,
    /// A connection that receives nothing for this long is presumed dead (native default
    /// 45 s; browser default none, since browsers cannot ping).
    pub read_timeout: Option<Duration>,
    /// Periodic keep-alive (native default: a ping every 20 s; browser default none).
    pub keep_alive: Option<KeepAlive>,
    /// Limit on each connect/reconnect callback (default 10 s).
    pub callback_timeout: Duration,
    /// How long a send waits for room in a full outbound queue (default 10 s).
    pub send_timeout: Duration,
    /// How long `connect()`/`reconnect()` wait for the connection (default 30 s).
    pub wait_timeout: Duration,
    /// How long a graceful close waits for the close frame to be written (default 1 s).
    pub close_timeout: Duration,
    /// How long shutdown waits for modules to stop before aborting them (default 5 s).
    pub shutdown_timeout: Duration,
    /// Connect as soon as the runner starts (default true).
    pub connect_on_start: bool,
    /// When to reconnect.
    pub reconnect: ReconnectPolicy,
    /// How failed modules are restarted.
    pub restart: RestartPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let browser = cfg!(target_arch = "wasm32");
        ClientConfig {
            outbound_capacity: 256,
            inbox_capacity: 1024,
            command_capacity: 64,
            stall_timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(10),
            read_timeout: (!browser).then_some(Duration::from_secs(45)),
            keep_alive: (!browser).then(|| KeepAlive {
                interval: Duration::from_secs(20),
                message: Message::Ping(bytes::Bytes::new()),
            }),
            callback_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
            connect_on_start: true,
            reconnect: ReconnectPolicy::default(),
            restart: RestartPolicy::default(),
        }
    }
}

/// What the builder puts together, piece by piece, in `build`.
pub(crate) struct Assembly<S> {
    pub(crate) state: Arc<S>,
    pub(crate) link: Arc<Link>,
    pub(crate) outbound: Outbound,
    pub(crate) config: ClientConfig,
    pub(crate) routes: Vec<Route>,
    pub(crate) handles: HashMap<TypeId, AnyHandle>,
    pub(crate) connect_callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
    pub(crate) reconnect_callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
    pub(crate) starters: Vec<MaybeSendStarter>,
    pub(crate) health: Vec<Arc<ModuleHealth>>,
}

cfg_if::cfg_if! {
    if #[cfg(target_arch = "wasm32")] {
        pub(crate) type MaybeSendStarter = Box<dyn FnOnce() -> TaskHandle<()>>;
    } else {
        pub(crate) type MaybeSendStarter = Box<dyn FnOnce() -> TaskHandle<()> + Send>;
    }
}

struct ApiAdapter<M, S>(M, PhantomData<fn() -> S>);

impl<S: AppState, M: ApiModule<S>> Supervised for ApiAdapter<M, S> {
    fn run_once(&mut self) -> impl Future<Output = Result<(), crate::BoxError>> + MaybeSend + '_ {
        self.0.run()
    }
}

struct LightweightAdapter<M, S>(M, PhantomData<fn() -> S>);

impl<S: AppState, M: LightweightModule<S>> Supervised for LightweightAdapter<M, S> {
    fn run_once(&mut self) -> impl Future<Output = Result<(), crate::BoxError>> + MaybeSend + '_ {
        self.0.run()
    }
}

impl<S: AppState> Assembly<S> {
    fn start_supervised<M: Supervised>(&mut self, name: &'static str, module: M) {
        let health = ModuleHealth::new(name);
        self.health.push(health.clone());
        let restart = self.config.restart.clone();
        let shutdown = self.link.watch_shutdown();
        self.starters.push(Box::new(move || {
            runtime::spawn(supervise(module, health, restart, shutdown))
        }));
    }

    fn add_api_module<M: ApiModule<S>>(&mut self) {
        if self.handles.contains_key(&TypeId::of::<M>()) {
            tracing::warn!(module = M::NAME, "module added twice; keeping the first");
            return;
        }
        let shutdown = self.link.watch_shutdown();
        let (inbox_tx, inbox_rx) = mpsc::channel(self.config.inbox_capacity.max(1));
        let (command_tx, command_rx) =
            crate::module::command_channel(self.config.command_capacity.max(1));
        let handle = M::create_handle(HandleContext {
            commander: Commander::new(command_tx, self.link.clone(), M::NAME),
            state: self.state.clone(),
            outbound: self.outbound.clone(),
            connection: self.link.connection_watch(),
        });
        self.handles.insert(TypeId::of::<M>(), Box::new(handle));
        let module = M::new(ModuleContext {
            state: self.state.clone(),
            inbox: Inbox::new(inbox_rx),
            commands: Commands::new(command_rx, shutdown),
            outbound: self.outbound.clone(),
            connection: self.link.connection_watch(),
        });
        self.routes
            .push(Route::new(M::NAME, M::rule(&self.state), inbox_tx));
        if let Some(callback) = M::reconnect_callback(&self.state) {
            self.reconnect_callbacks.push(callback);
        }
        self.start_supervised(M::NAME, ApiAdapter::<M, S>(module, PhantomData));
    }

    fn add_lightweight_module<M: LightweightModule<S>>(&mut self) {
        let (inbox_tx, inbox_rx) = mpsc::channel(self.config.inbox_capacity.max(1));
        let module = M::new(LightweightContext {
            state: self.state.clone(),
            inbox: Inbox::new(inbox_rx),
            outbound: self.outbound.clone(),
            connection: self.link.connection_watch(),
        });
        self.routes
            .push(Route::new(M::NAME, M::rule(&self.state), inbox_tx));
        if let Some(callback) = M::reconnect_callback(&self.state) {
            self.reconnect_callbacks.push(callback);
        }
        self.start_supervised(M::NAME, LightweightAdapter::<M, S>(module, PhantomData));
    }
}

type Registration<S> = Box<dyn FnOnce(&mut Assembly<S>)>;

/// Builds a [`Client`] and the [`ClientRunner`] that drives it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use core_pre::memory::MemoryServer;
/// use core_pre::{ClientBuilder, Message, ReconnectPolicy};
/// use std::time::Duration;
///
/// let server = MemoryServer::new();
/// let (client, runner) = ClientBuilder::new(server.connector())
///     .with_reconnect_policy(ReconnectPolicy::default().with_max_delay(Duration::from_secs(5)))
///     .with_lightweight_handler(|msg: &Message, _ctx: &core_pre::HandlerContext<()>| {
///         println!("got {msg:?}");
///     })
///     .build();
/// let runner = runner.spawn();
/// # let _peer = server.accept().await;
/// client.wait_connected(Duration::from_secs(5)).await.unwrap();
/// client.shutdown().await.unwrap();
/// runner.await.unwrap();
/// # }
/// ```
pub struct ClientBuilder<S: AppState = ()> {
    connector: Box<dyn Connector<S>>,
    state: Arc<S>,
    config: ClientConfig,
    registrations: Vec<Registration<S>>,
    handlers: Vec<Box<dyn LightweightHandler<S>>>,
    middleware: Vec<Box<dyn Middleware<S>>>,
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
        ClientBuilder {
            connector: Box::new(connector),
            state: Arc::new(state),
            config: ClientConfig::default(),
            registrations: Vec::new(),
            handlers: Vec::new(),
            middleware: Vec::new(),
        }
    }

    /// Adds an [`ApiModule`]; get its handle with [`Client::get_handle`].
    pub fn with_module<M: ApiModule<S>>(mut self) -> Self {
        self.registrations
            .push(Box::new(|asm: &mut Assembly<S>| asm.add_api_module::<M>()));
        self
    }

    /// Adds a [`LightweightModule`].
    pub fn with_lightweight_module<M: LightweightModule<S>>(mut self) -> Self {
        self.registrations.push(Box::new(|asm: &mut Assembly<S>| {
            asm.add_lightweight_module::<M>()
        }));
        self
    }

    /// Adds a handler that sees every inbound message inline.
    pub fn with_lightweight_handler(mut self, handler: impl LightweightHandler<S>) -> Self {
        self.handlers.push(Box::new(handler));
        self
    }

    /// Adds a middleware; hooks run in the order middleware are added.
    pub fn with_middleware(mut self, middleware: impl Middleware<S>) -> Self {
        self.middleware.push(Box::new(middleware));
        self
    }

    /// Runs `callback` after every successful connection, the first one included.
    pub fn on_connect(mut self, callback: impl ReconnectCallback<S>) -> Self {
        let callback: Arc<dyn ReconnectCallback<S>> = Arc::new(callback);
        self.registrations
            .push(Box::new(move |asm: &mut Assembly<S>| {
                asm.connect_callbacks.push(callback)
            }));
        self
    }

    /// Runs `callback` after every reconnection (not the first connection), in order with
    /// the modules' own reconnect callbacks, before modules see the new traffic.
    pub fn on_reconnect(mut self, callback: impl ReconnectCallback<S>) -> Self {
        let callback: Arc<dyn ReconnectCallback<S>> = Arc::new(callback);
        self.registrations
            .push(Box::new(move |asm: &mut Assembly<S>| {
                asm.reconnect_callbacks.push(callback)
            }));
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

    /// Sets the outbound queue, module inbox and command queue sizes.
    pub fn with_capacities(mut self, outbound: usize, inbox: usize, commands: usize) -> Self {
        self.config.outbound_capacity = outbound.max(1);
        self.config.inbox_capacity = inbox.max(1);
        self.config.command_capacity = commands.max(1);
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

    /// Sets how long shutdown waits for modules before aborting them.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Whether the runner connects as soon as it starts (default true). If false, the
    /// client waits for [`Client::connect`].
    pub fn connect_on_start(mut self, connect: bool) -> Self {
        self.config.connect_on_start = connect;
        self
    }

    /// Replaces the whole configuration.
    pub fn with_config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Builds the client and its runner. Spawn the runner (`runner.spawn()`, or
    /// `runtime::spawn(runner.run())`); the client does nothing until it runs.
    pub fn build(self) -> (Client<S>, ClientRunner<S>) {
        let link = Link::new();
        let (outbound_tx, outbound_rx) = mpsc::channel(self.config.outbound_capacity.max(1));
        // Control commands are rare: a channel that allocates per message, not up front.
        let (control_tx, control_rx) = futures::channel::mpsc::channel(16);
        let outbound = Outbound::new(outbound_tx, link.clone(), self.config.send_timeout);
        let mut asm = Assembly {
            state: self.state.clone(),
            link: link.clone(),
            outbound: outbound.clone(),
            config: self.config.clone(),
            routes: Vec::new(),
            handles: HashMap::new(),
            connect_callbacks: Vec::new(),
            reconnect_callbacks: Vec::new(),
            starters: Vec::new(),
            health: Vec::new(),
        };
        for register in self.registrations {
            register(&mut asm);
        }
        let route_stats: Vec<(&'static str, Arc<RouteStats>)> =
            asm.routes.iter().map(Route::stats).collect();
        let router = Router::new(
            asm.routes,
            self.handlers,
            HandlerContext {
                state: self.state.clone(),
                outbound: outbound.clone(),
            },
            self.config.stall_timeout,
        );
        let middleware = MiddlewareStack::new(
            self.middleware,
            MiddlewareContext {
                state: self.state.clone(),
                outbound: outbound.clone(),
            },
        );
        let client = Client::new(
            link.clone(),
            outbound.clone(),
            control_tx,
            asm.handles,
            self.state.clone(),
            asm.health,
            route_stats,
            self.config.wait_timeout,
        );
        let runner = ClientRunner::new(
            self.connector,
            self.state,
            link,
            self.config,
            control_rx,
            outbound,
            outbound_rx,
            router,
            middleware,
            asm.connect_callbacks,
            asm.reconnect_callbacks,
            asm.starters,
        );
        (client, runner)
    }
}
