//! Modules: the units of behaviour a client is built from.
//!
//! * An [`ApiModule`] is long-running and answers commands from its `Handle` (for example
//!   "place this trade and tell me the result"). It receives the inbound messages its
//!   [`rule`](ApiModule::rule) selects.
//! * A [`LightweightModule`] is a background loop with no handle (keep-alives, bookkeeping).
//! * A [lightweight handler](crate::LightweightHandler) is a plain function that sees every
//!   message inline, in the reader, before any module does.
//!
//! Modules run in their own tasks, fed through bounded queues (see the
//! [router](crate::router) for what happens when a module falls behind), and are restarted
//! with a throttle if `run` fails (see [`supervisor`](crate::supervisor)).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{BoxError, CoreError, CoreResult};
use crate::link::{ConnectionWatch, Link, Outbound};
use crate::message::Message;
use crate::reconnect::ReconnectCallback;
use crate::rule::Rule;
use crate::runtime::{self, MaybeSend, MaybeSync};
use crate::state::AppState;

/// A long-running module with a command/response handle.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use core_pre::{ApiModule, BoxError, Commander, HandleContext, ModuleContext, Rule, CoreResult};
/// use core_pre::rule::text_starts_with;
///
/// /// Remembers the last `price:` message and answers queries about it.
/// struct LastPrice {
///     ctx: ModuleContext<(), (), Option<String>>,
///     last: Option<String>,
/// }
///
/// #[derive(Clone)]
/// struct LastPriceHandle(Commander<(), Option<String>>);
///
/// impl LastPriceHandle {
///     async fn last(&self) -> CoreResult<Option<String>> {
///         self.0.call((), Duration::from_secs(1)).await
///     }
/// }
///
/// impl ApiModule<()> for LastPrice {
///     type Command = ();
///     type CommandResponse = Option<String>;
///     type Handle = LastPriceHandle;
///     const NAME: &'static str = "last_price";
///
///     fn new(ctx: ModuleContext<(), (), Option<String>>) -> Self {
///         LastPrice { ctx, last: None }
///     }
///     fn create_handle(ctx: HandleContext<(), (), Option<String>>) -> LastPriceHandle {
///         LastPriceHandle(ctx.commander)
///     }
///     fn rule(_state: &Arc<()>) -> Box<dyn Rule> {
///         Box::new(text_starts_with("price:"))
///     }
///     async fn run(&mut self) -> Result<(), BoxError> {
///         loop {
///             tokio::select! {
///                 msg = self.ctx.inbox.recv() => match msg {
///                     Some(msg) => self.last = msg.as_text().map(str::to_owned),
///                     None => return Ok(()), // shutting down
///                 },
///                 req = self.ctx.commands.recv() => match req {
///                     Some(req) => { req.reply(self.last.clone()); }
///                     None => return Ok(()),
///                 },
///             }
///         }
///     }
/// }
/// ```
pub trait ApiModule<S: AppState>: MaybeSend + Sized + 'static {
    /// What the handle asks the module to do.
    type Command: MaybeSend + 'static;
    /// What the module answers.
    type CommandResponse: MaybeSend + 'static;
    /// The user-facing handle, cheap to clone.
    type Handle: Clone + MaybeSend + MaybeSync + 'static;
    /// A short name for logs, errors and statistics.
    const NAME: &'static str;

    /// Builds the module. Called once, when the client is built.
    fn new(ctx: ModuleContext<S, Self::Command, Self::CommandResponse>) -> Self;

    /// Builds the handle users get from `Client::get_handle`.
    fn create_handle(ctx: HandleContext<S, Self::Command, Self::CommandResponse>) -> Self::Handle;

    /// Which inbound messages this module receives.
    fn rule(state: &Arc<S>) -> Box<dyn Rule>;

    /// The module's loop. Return `Ok(())` when the inbox or command queue says the client
    /// is shutting down (they yield `None`); an error gets the module restarted.
    fn run(&mut self) -> impl Future<Output = Result<(), BoxError>> + MaybeSend;

    /// A callback run after each reconnect, before modules see new traffic (to resubscribe,
    /// for example).
    fn reconnect_callback(_state: &Arc<S>) -> Option<Arc<dyn ReconnectCallback<S>>> {
        None
    }
}

/// A background module without a handle.
pub trait LightweightModule<S: AppState>: MaybeSend + Sized + 'static {
    /// A short name for logs, errors and statistics.
    const NAME: &'static str;

    /// Builds the module. Called once, when the client is built.
    fn new(ctx: LightweightContext<S>) -> Self;

    /// Which inbound messages this module receives (default: none).
    fn rule(_state: &Arc<S>) -> Box<dyn Rule> {
        Box::new(|_: &Message| false)
    }

    /// The module's loop; see [`ApiModule::run`].
    fn run(&mut self) -> impl Future<Output = Result<(), BoxError>> + MaybeSend;

    /// A callback run after each reconnect.
    fn reconnect_callback(_state: &Arc<S>) -> Option<Arc<dyn ReconnectCallback<S>>> {
        None
    }
}

/// What an [`ApiModule`] gets to work with.
pub struct ModuleContext<S = (), C = (), R = ()> {
    /// The shared application state.
    pub state: Arc<S>,
    /// Inbound messages that matched the module's rule.
    pub inbox: Inbox,
    /// Commands from the module's handles.
    pub commands: Commands<C, R>,
    /// Sends to the peer.
    pub outbound: Outbound,
    /// The connection's state and epochs.
    pub connection: ConnectionWatch,
}

/// What a [`LightweightModule`] gets to work with.
pub struct LightweightContext<S> {
    /// The shared application state.
    pub state: Arc<S>,
    /// Inbound messages that matched the module's rule.
    pub inbox: Inbox,
    /// Sends to the peer.
    pub outbound: Outbound,
    /// The connection's state and epochs.
    pub connection: ConnectionWatch,
}

/// What [`ApiModule::create_handle`] gets to build a handle from.
pub struct HandleContext<S, C, R> {
    /// Sends commands to the module and awaits answers.
    pub commander: Commander<C, R>,
    /// The shared application state (handles may read it directly, without a round trip).
    pub state: Arc<S>,
    /// Sends to the peer directly.
    pub outbound: Outbound,
    /// The connection's state and epochs.
    pub connection: ConnectionWatch,
}

/// A module's queue of inbound messages. Yields `None` once the client shuts down (the
/// router, which holds the sending side, is dropped then).
pub struct Inbox {
    rx: mpsc::Receiver<Message>,
}

impl Inbox {
    pub(crate) fn new(rx: mpsc::Receiver<Message>) -> Self {
        Inbox { rx }
    }

    /// The next message, or `None` when the client is shutting down.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// Receives up to `limit` messages at once into `buf` (at least one unless shutting
    /// down); returns how many arrived. Batching saves wake-ups under load.
    pub async fn recv_many(&mut self, buf: &mut Vec<Message>, limit: usize) -> usize {
        self.rx.recv_many(buf, limit).await
    }

    /// A message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Message> {
        self.rx.try_recv().ok()
    }

    /// Messages waiting in the queue.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

/// A command and the means to answer it.
pub struct Request<C, R> {
    command: C,
    reply: Responder<R>,
}

impl<C, R> Request<C, R> {
    /// The command.
    pub fn command(&self) -> &C {
        &self.command
    }

    /// Answers the request (returns false if the caller stopped waiting).
    pub fn reply(self, response: R) -> bool {
        self.reply.send(response)
    }

    /// Splits the request, to answer later (the caller's timeout still applies).
    pub fn into_parts(self) -> (C, Responder<R>) {
        (self.command, self.reply)
    }
}

/// Answers one request. Dropping it unanswered makes the caller's call fail with
/// [`CoreError::ModuleStopped`].
pub struct Responder<R>(oneshot::Sender<R>);

impl<R> Responder<R> {
    /// Sends the answer; false if the caller stopped waiting.
    pub fn send(self, response: R) -> bool {
        self.0.send(response).is_ok()
    }

    /// True when the caller stopped waiting (timed out or dropped the call).
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The command queue's channel. Commands are rare next to inbound messages, and many
/// modules never receive any: this channel allocates per message instead of a block up
/// front, which keeps an idle client small.
type CommandTx<C, R> = futures::channel::mpsc::Sender<Request<C, R>>;
type CommandRx<C, R> = futures::channel::mpsc::Receiver<Request<C, R>>;

/// A bounded command queue for one module.
pub(crate) fn command_channel<C, R>(capacity: usize) -> (CommandTx<C, R>, CommandRx<C, R>) {
    // The bound is `capacity` plus one slot per sender (each handle clone).
    futures::channel::mpsc::channel(capacity)
}

/// A module's queue of commands. Yields `None` once the client shuts down.
pub struct Commands<C, R> {
    rx: CommandRx<C, R>,
    shutdown: watch::Receiver<bool>,
}

impl<C, R> Commands<C, R> {
    pub(crate) fn new(rx: CommandRx<C, R>, shutdown: watch::Receiver<bool>) -> Self {
        Commands { rx, shutdown }
    }

    /// The next command, or `None` when the client is shutting down.
    pub async fn recv(&mut self) -> Option<Request<C, R>> {
        if *self.shutdown.borrow() {
            return None;
        }
        tokio::select! {
            biased;
            req = futures::StreamExt::next(&mut self.rx) => req,
            _ = self.shutdown.wait_for(|stop| *stop) => None,
        }
    }
}

/// Sends commands to a module and waits for the answers: the inside of a module handle.
pub struct Commander<C, R> {
    tx: CommandTx<C, R>,
    link: Arc<Link>,
    module: &'static str,
}

impl<C, R> Clone for Commander<C, R> {
    fn clone(&self) -> Self {
        Commander {
            tx: self.tx.clone(),
            link: self.link.clone(),
            module: self.module,
        }
    }
}

impl<C: MaybeSend, R: MaybeSend> Commander<C, R> {
    pub(crate) fn new(tx: CommandTx<C, R>, link: Arc<Link>, module: &'static str) -> Self {
        Commander { tx, link, module }
    }

    /// Sends `command` and waits for the answer, for at most `timeout` in all.
    ///
    /// Fails with [`CoreError::ClientClosed`] after shutdown, [`CoreError::Timeout`] when
    /// the module does not answer in time, and [`CoreError::ModuleStopped`] when it drops
    /// the request.
    pub async fn call(&self, command: C, timeout: Duration) -> CoreResult<R> {
        self.link.ensure_open()?;
        let (tx, rx) = oneshot::channel();
        let request = Request {
            command,
            reply: Responder(tx),
        };
        let mut tx = self.tx.clone();
        let exchange = async {
            futures::SinkExt::send(&mut tx, request)
                .await
                .map_err(|_| self.stopped())?;
            rx.await.map_err(|_| self.stopped())
        };
        match runtime::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => {
                self.link.ensure_open()?;
                Err(CoreError::Timeout {
                    after: timeout,
                    waiting_for: self.module,
                })
            }
        }
    }

    fn stopped(&self) -> CoreError {
        if self.link.is_closed() {
            CoreError::ClientClosed
        } else {
            CoreError::ModuleStopped(self.module)
        }
    }

    /// The module this commander talks to.
    pub fn module(&self) -> &'static str {
        self.module
    }
}

impl<C, R> std::fmt::Debug for Commander<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commander")
            .field("module", &self.module)
            .finish()
    }
}
