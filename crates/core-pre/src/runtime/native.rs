//! The native runtime: tokio.

use std::future::Future;
use std::time::Duration;

use super::Elapsed;

pub(super) async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

pub(super) async fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    tokio::time::timeout(duration, future)
        .await
        .map_err(|_| Elapsed)
}

pub(super) fn spawn_detached<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(tokio::spawn(future));
}
