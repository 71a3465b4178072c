//! The browser runtime: the page's event loop (`wasm-bindgen-futures`) and its timers.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::{Either, select};

use super::Elapsed;

pub(super) async fn sleep(duration: Duration) {
    // Browser timers take whole milliseconds and clamp to 2^31-1.
    let millis = duration.as_millis().min(i32::MAX as u128) as u32;
    gloo_timers::future::TimeoutFuture::new(millis).await
}

pub(super) async fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> Result<F::Output, Elapsed> {
    match select(pin!(future), pin!(sleep(duration))).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(((), _)) => Err(Elapsed),
    }
}

pub(super) fn spawn_detached<F>(future: F)
where
    F: Future<Output = ()> + 'static,
{
    wasm_bindgen_futures::spawn_local(future);
}
