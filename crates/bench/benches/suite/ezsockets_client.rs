//! The ezsockets client on the same flood: a `ClientExt` whose `on_text` counts.
//!
//! ezsockets is a dev-dependency of this suite only; nothing of ours depends on it.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bench::{BenchError, Throughput, within};
use ezsockets::client::ClientCloseMode;
use tokio::sync::oneshot;

use bench::throughput::CONNECT_WAIT;

struct Counter {
    target: u64,
    count: u64,
    connected: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Sender<()>>,
}

#[async_trait]
impl ezsockets::ClientExt for Counter {
    type Call = ();

    async fn on_text(&mut self, _text: ezsockets::Utf8Bytes) -> Result<(), ezsockets::Error> {
        self.count += 1;
        if self.count >= self.target {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
        Ok(())
    }

    async fn on_binary(&mut self, _bytes: ezsockets::Bytes) -> Result<(), ezsockets::Error> {
        Ok(())
    }

    async fn on_call(&mut self, _call: ()) -> Result<(), ezsockets::Error> {
        Ok(())
    }

    async fn on_connect(&mut self) -> Result<(), ezsockets::Error> {
        if let Some(connected) = self.connected.take() {
            let _ = connected.send(());
        }
        Ok(())
    }

    async fn on_close(
        &mut self,
        _frame: Option<ezsockets::CloseFrame>,
    ) -> Result<ClientCloseMode, ezsockets::Error> {
        Ok(ClientCloseMode::Close)
    }

    async fn on_disconnect(&mut self) -> Result<ClientCloseMode, ezsockets::Error> {
        Ok(ClientCloseMode::Close)
    }
}

/// Connects with ezsockets, sends `start`, and counts `frames` text frames in `on_text`.
pub(crate) async fn ezsockets_flood(
    url: &str,
    frames: u64,
    limit: Duration,
) -> Result<Throughput, BenchError> {
    let (connected, is_connected) = oneshot::channel();
    let (done, finished) = oneshot::channel();
    let config = ezsockets::ClientConfig::new(url).max_initial_connect_attempts(1);
    let (handle, future) = ezsockets::connect(
        move |_client| Counter {
            target: frames,
            count: 0,
            connected: Some(connected),
            done: Some(done),
        },
        config,
    )
    .await;
    let actor = tokio::spawn(future);
    within(
        "the ezsockets client to connect",
        CONNECT_WAIT,
        is_connected,
    )
    .await?
    .map_err(|_| BenchError::Protocol("the ezsockets client did not connect".into()))?;
    let started = Instant::now();
    handle
        .text("start")
        .map_err(|e| BenchError::Protocol(format!("ezsockets send: {e}")))?;
    let finished = within("the flood (ezsockets client)", limit, finished).await;
    let elapsed = started.elapsed();
    let _ = handle.close(None);
    let _ = within("the ezsockets client to stop", CONNECT_WAIT, actor).await;
    finished?.map_err(|_| BenchError::Protocol("the ezsockets client stopped early".into()))?;
    Ok(Throughput {
        units: frames,
        elapsed,
    })
}
