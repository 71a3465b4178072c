//! The channel from [`Client`](crate::Client) to the runner: connect, disconnect,
//! reconnect and shut down, each acknowledged when done.

use futures::channel::mpsc;
use tokio::sync::oneshot;

/// A command from the client to the runner; each carries its acknowledgement.
pub(crate) enum Control {
    Connect(oneshot::Sender<()>),
    Disconnect(oneshot::Sender<()>),
    Reconnect(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// An acknowledgement still owed (none when the command came from dropping the client).
pub(crate) type Ack = Option<oneshot::Sender<()>>;

/// Sends the acknowledgement, if one is owed. The caller may have stopped waiting; that
/// is fine.
pub(crate) fn ack(ack: Ack) {
    if let Some(ack) = ack {
        let _ = ack.send(());
    }
}

/// Control commands are rare: a channel that allocates per message, not up front.
pub(crate) fn channel() -> (mpsc::Sender<Control>, mpsc::Receiver<Control>) {
    mpsc::channel(16)
}

/// What a control command means for a wait in progress (a backoff delay or a connection
/// attempt).
pub(crate) enum Interrupt {
    Shutdown(Ack),
    Disconnect(Ack),
    /// Connect or reconnect: already doing that; acknowledged.
    Proceed,
}

impl Interrupt {
    /// Reads a command (`None`: every client is gone, which means shut down).
    pub(crate) fn from(cmd: Option<Control>) -> Interrupt {
        match cmd {
            None => Interrupt::Shutdown(None),
            Some(Control::Shutdown(a)) => Interrupt::Shutdown(Some(a)),
            Some(Control::Disconnect(a)) => Interrupt::Disconnect(Some(a)),
            Some(Control::Connect(a) | Control::Reconnect(a)) => {
                ack(Some(a));
                Interrupt::Proceed
            }
        }
    }
}
