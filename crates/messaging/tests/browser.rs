//! The client inside headless Chromium (the browser's WebSocket through client_ws), against
//! the nats-server that `cargo xtask browser` starts; its WebSocket URL is baked in at
//! compile time through `MESSAGING_TEST_NATS_WS`.
//!
//! ```text
//! MESSAGING_TEST_NATS_WS=ws://127.0.0.1:PORT \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//! cargo test -p messaging --target wasm32-unknown-unknown --test browser
//! ```

#![cfg(target_arch = "wasm32")]

use std::future::Future;
use std::time::Duration;

use core_pre::runtime;
use messaging::MessagingError;
use messaging::client::{ClientConfig, Codec, MessagingClient};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

fn nats_url() -> &'static str {
    match option_env!("MESSAGING_TEST_NATS_WS") {
        Some(url) => url,
        None => panic!(
            "build with MESSAGING_TEST_NATS_WS=ws://127.0.0.1:PORT of a nats-server websocket \
             listener (cargo xtask browser starts one)"
        ),
    }
}

async fn within<F: Future>(future: F) -> F::Output {
    runtime::timeout(WAIT, future).await.expect("timed out")
}

async fn connect() -> MessagingClient {
    within(MessagingClient::connect(ClientConfig::new(
        nats_url(),
        Codec::Nats,
    )))
    .await
    .expect("connects to nats-server's websocket listener")
}

#[wasm_bindgen_test]
async fn publishes_and_receives_through_the_websocket_listener() {
    let subscriber = connect().await;
    let publisher = connect().await;
    let mut sub = subscriber.subscribe("browser.*", None).await.unwrap();
    within(subscriber.flush(WAIT)).await.unwrap();
    publisher
        .publish("browser.hello", "from wasm")
        .await
        .unwrap();
    let message = within(sub.recv()).await.expect("a message");
    assert_eq!(message.subject.as_str(), "browser.hello");
    assert_eq!(&message.body[..], b"from wasm");
    assert!(subscriber.session().connected_at.is_some());
    publisher.shutdown().await;
    subscriber.shutdown().await;
}

#[wasm_bindgen_test]
async fn requests_are_answered_and_no_responders_is_immediate() {
    let client = connect().await;
    let mut service = client.subscribe("browser.upper", None).await.unwrap();
    within(client.flush(WAIT)).await.unwrap();
    let responder = client.clone();
    drop(runtime::spawn(async move {
        while let Some(request) = service.recv().await {
            if let Some(reply) = request.reply_to {
                let upper = String::from_utf8_lossy(&request.body).to_uppercase();
                let _ = responder.publish(reply, upper).await;
            }
        }
    }));
    let reply = within(client.request("browser.upper", "abc", WAIT))
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"ABC");
    let error = within(client.request("browser.nobody", "x", WAIT))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MessagingError::NoResponders { subject } if subject == "browser.nobody"),
        "{error}"
    );
    client.shutdown().await;
}
