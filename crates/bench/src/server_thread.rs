//! [`ServerThread`]: a dedicated OS thread running its own single-threaded tokio runtime,
//! for the servers.
//!
//! The machine has two cores: the server gets one thread and the client under test the
//! other (each benchmark runs its client on a current-thread runtime), so the server's
//! work never shares a scheduler with the client's and the figures compare clients, not
//! schedulers.

use std::future::Future;

use tokio::sync::oneshot;

use crate::error::BenchError;

/// A thread with a current-thread runtime; dropping it stops the runtime and joins the
/// thread.
#[derive(Debug)]
pub struct ServerThread {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Starts the thread.
    pub fn start(name: &str) -> Result<ServerThread, BenchError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Runs every spawned task until asked to stop (or the owner is gone).
                let _ = runtime.block_on(stopped);
            })?;
        Ok(ServerThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `future` on the server thread and waits for its output (from any runtime).
    pub async fn run<F>(&self, future: F) -> Result<F::Output, BenchError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle
            .spawn(future)
            .await
            .map_err(|e| BenchError::Protocol(format!("a server task failed: {e}")))
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
