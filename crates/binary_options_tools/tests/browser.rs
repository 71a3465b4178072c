//! The PocketOption client inside headless Chromium, over the browser WebSocket, against
//! the native simulator that `cargo xtask ci` starts (its URL is baked in at compile time
//! through `PO_SIM_URL`).
//!
//! ```text
//! PO_SIM_URL=ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//! cargo test -p binary_options_tools --target wasm32-unknown-unknown --test browser
//! ```

#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use binary_options_tools::{Decimal, PocketOption, Ssid, SubscriptionKind, Timeouts};
use core_pre::runtime;
use futures::StreamExt;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const WAIT: Duration = Duration::from_secs(15);

fn simulator_url() -> &'static str {
    match option_env!("PO_SIM_URL") {
        Some(url) => url,
        None => panic!(
            "build with PO_SIM_URL=ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket of a running \
             simulator (cargo xtask ci does)"
        ),
    }
}

#[wasm_bindgen_test]
async fn connects_authenticates_and_streams_ticks_from_the_browser() {
    let client = runtime::timeout(
        WAIT,
        PocketOption::builder(Ssid::demo("browser-session", 777))
            .with_url(simulator_url())
            .only_given_urls()
            .with_timeouts(Timeouts::default().with_request(Duration::from_secs(5)))
            .connect(),
    )
    .await
    .expect("connected in time")
    .expect("authenticated");
    assert!(client.is_connected());
    assert!(client.balance().await.unwrap() > Decimal::ZERO);
    assert!(!client.assets().await.unwrap().is_empty());

    let mut ticks = client
        .subscribe("EURUSD_otc", SubscriptionKind::Ticks)
        .await
        .unwrap();
    let mut last = 0.0;
    for _ in 0..3 {
        let tick = runtime::timeout(WAIT, ticks.next())
            .await
            .expect("a tick in time")
            .expect("the stream is open");
        assert!(tick.time > last);
        last = tick.time;
    }
    assert!(!client.server_time().stale);
    client.shutdown().await.unwrap();
    assert!(client.balance().await.unwrap_err().is_client_closed());
}
