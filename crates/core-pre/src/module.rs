//! Modules: the units of behaviour a client is built from.
//!
//! A [`Module`] is a supervised task with its own bounded [`Inbox`] of the inbound
//! messages its [`rule`](Module::rule) selects, and a [`Handle`](Module::Handle) it gives
//! out when it is added: the way users talk to it. A handle usually works over state it
//! shares with the module (an `Arc` of a book, a registry, pending requests) and sends
//! frames through [`Outbound`]; a module that wants commands answered by its own loop
//! opens a [command channel](ModuleContext::command_channel) and puts the [`Commander`]
//! in its handle. A module with nothing to hand out uses `type Handle = ();`.
//!
//! An [inline handler](crate::InlineHandler) is the other kind of behaviour: a plain
//! function that sees every message inline, in the reader, before any module does.
//!
//! Modules run in their own tasks, fed through bounded queues (see the
//! [router](crate::router) for what happens when a module falls behind), and are restarted
//! with a throttle if `run` fails (see [`RestartPolicy`](crate::RestartPolicy)).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::error::{BoxError, CoreError, CoreResult};
use crate::inbox::Inbox;
use crate::link::{ConnectionWatch, Link, Outbound};
use crate::message::Message;
use crate::reconnect::ConnectCallback;
use crate::rule::Rule;
use crate::runtime::{self, MaybeSend, MaybeSync};
use crate::state::AppState;

/// A long-running unit of behaviour with a handle for its users.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use core_pre::{BoxError, Inbox, Module, ModuleContext, Rule};
/// use core_pre::rule::text_starts_with;
///
/// /// Remembers the last `price:` message; its handle reads it.
/// struct LastPrice {
///     inbox: Inbox,
///     last: Arc<Mutex<Option<String>>>,
/// }
///
/// #[derive(Clone)]
/// struct LastPriceHandle(Arc<Mutex<Option<String>>>);
///
/// impl LastPriceHandle {
///     fn last(&self) -> Option<String> {
///         core_pre::runtime::lock(&self.0).clone()
///     }
/// }
///
/// impl Module<()> for LastPrice {
///     type Handle = LastPriceHandle;
///     const NAME: &'static str = "last_price";
///
///     fn new(ctx: ModuleContext<()>) -> (Self, LastPriceHandle) {
///         let last = Arc::new(Mutex::new(None));
///         (LastPrice { inbox: ctx.inbox, last: last.clone() }, LastPriceHandle(last))
///     }
///     fn rule(_state: &Arc<()>) -> Box<dyn Rule> {
///         Box::new(text_starts_with("price:"))
///     }
///     async fn run(&mut self) -> Result<(), BoxError> {
///         // `None`: the client is shutting down.
///         while let Some(msg) = self.inbox.recv().await {
///             *core_pre::runtime::lock(&self.last) = msg.as_text().map(str::to_owned);
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Module<S: AppState>: MaybeSend + Sized + 'static {
    /// What users get to talk to the module: cheap to clone; `()` for none.
    type Handle: Clone + MaybeSend + MaybeSync + 'static;
    /// A short name for logs, errors and statistics.
    const NAME: &'static str;

    /// Builds the module and its handle. Called once, when the module is added.
    fn new(ctx: ModuleContext<S>) -> (Self, Self::Handle);

    /// Which inbound messages this module receives (default: none).
    fn rule(_state: &Arc<S>) -> Box<dyn Rule> {
        Box::new(|_: &Message| false)
    }

    /// The module's loop. Return `Ok(())` when the inbox (or a command queue) says the
    /// client is shutting down (they yield `None`); an error gets the module restarted.
    fn run(&mut self) -> impl Future<Output = Result<(), BoxError>> + MaybeSend;

    /// A callback run after each reconnect, before modules see new traffic (to resubscribe,
    /// for example).
    fn on_reconnect(_state: &Arc<S>) -> Option<Arc<dyn ConnectCallback<S>>> {
        None
    }
}

/// What a [`Module`] gets to work with.
pub struct ModuleContext<S> {
    /// The shared application state.
    pub state: Arc<S>,
    /// Inbound messages that matched the module's rule.
    pub inbox: Inbox,
    /// Sends to the peer.
    pub outbound: Outbound,
    /// The connection's state and epochs.
    pub connection: ConnectionWatch,
    pub(crate) link: Arc<Link>,
    pub(crate) name: &'static str,
    pub(crate) stall_timeout: Duration,
}

impl<S> ModuleContext<S> {
    /// The client's slow-consumer bound ([`ClientConfig::stall_timeout`](crate::ClientConfig::stall_timeout)):
    /// how long the router waits for room in a full inbox before it counts the module as
    /// stalled. A module that fans messages out to bounded streams of its own applies the
    /// same bound, so one policy holds from the socket to the user's stream.
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// A bounded queue of commands for this module: give the [`Commander`] to the handle,
    /// keep the [`Commands`] in the module and answer them in `run`. The queue ends (yields
    /// `None`) when the client shuts down.
    pub fn command_channel<C, R>(&self, capacity: usize) -> (Commander<C, R>, Commands<C, R>) {
        // The bound is `capacity` plus one slot per sender (each handle clone).
        let (tx, rx) = futures::channel::mpsc::channel(capacity.max(1));
        (
            Commander {
                tx,
                link: self.link.clone(),
                module: self.name,
            },
            Commands {
                rx,
                shutdown: self.link.watch_shutdown(),
            },
        )
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

/// The command queue's channel. Commands are rare next to inbound messages: this channel
/// allocates per message instead of a block up front, which keeps an idle client small.
type CommandTx<C, R> = futures::channel::mpsc::Sender<Request<C, R>>;
type CommandRx<C, R> = futures::channel::mpsc::Receiver<Request<C, R>>;

/// A module's queue of commands. Yields `None` once the client shuts down.
pub struct Commands<C, R> {
    rx: CommandRx<C, R>,
    shutdown: watch::Receiver<bool>,
}

impl<C, R> Commands<C, R> {
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
