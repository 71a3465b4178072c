//! [`Echo`]: the core-pre module that sends every text and binary message straight back.
//!
//! It is a [`Module`](core_pre::Module) rather than an inline handler so that sending waits
//! for room in the outbound queue (backpressure) instead of dropping a reply when the
//! queue is momentarily full: the fuzzing server counts every missing echo as a failure.
//! The message is sent back as the same [`Message`] value, so text stays text and binary
//! stays binary, and the payload is shared, not copied. Control frames are not routed
//! here: the transport answers pings and close frames itself.

use std::sync::Arc;

use core_pre::{BoxError, CoreError, Message, Module, ModuleContext, Rule};

/// Echoes text as text and binary as binary, in order.
pub struct Echo {
    ctx: ModuleContext<()>,
}

impl Module<()> for Echo {
    type Handle = ();
    const NAME: &'static str = "echo";

    fn new(ctx: ModuleContext<()>) -> (Self, ()) {
        (Echo { ctx }, ())
    }

    fn rule(_state: &Arc<()>) -> Box<dyn Rule> {
        Box::new(|msg: &Message| msg.is_text() || msg.is_binary())
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            match self.ctx.outbound.send(msg).await {
                Ok(()) => {}
                // The connection ended between receiving and answering: the server has
                // stopped listening, so the echo has nobody to go to.
                Err(CoreError::NotConnected { .. }) => {}
                Err(CoreError::ClientClosed) => return Ok(()),
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }
}
