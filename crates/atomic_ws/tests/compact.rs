//! Compact messages: round trips, malformed input, and typed send/receive between a
//! core-pre client and a `server` over a real loopback WebSocket.

use std::collections::BTreeMap;
use std::time::Duration;

use atomic_ws::AtomicError;
use atomic_ws::compact::{self, Category};
use client_ws::{WsConfig, WsConnector};
use core_pre::{ClientBuilder, HandlerContext, Message};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Startup {
    name: String,
    version: u32,
    tags: Vec<String>,
}
impl Category for Startup {
    const CATEGORY: u16 = 1;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Reading {
    Temperature { celsius: f64 },
    Door(bool),
    Nothing,
}
impl Category for Reading {
    const CATEGORY: u16 = 0xBEEF;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Table {
    rows: BTreeMap<String, Option<i64>>,
    blob: Vec<u8>,
}
impl Category for Table {
    const CATEGORY: u16 = u16::MAX;
}

fn startup() -> Startup {
    Startup {
        name: "kiosk-7".into(),
        version: 3,
        tags: vec!["lobby".into(), "ünïcode".into()],
    }
}

#[test]
fn values_round_trip_with_their_category() {
    let message = compact::to_message(&startup()).unwrap();
    assert!(message.is_binary());
    assert_eq!(
        &message.payload()[..2],
        &[0, 1],
        "the tag is big-endian first"
    );
    assert_eq!(
        compact::from_message::<Startup>(&message).unwrap(),
        startup()
    );

    for reading in [
        Reading::Temperature { celsius: -3.25 },
        Reading::Door(true),
        Reading::Nothing,
    ] {
        let message = compact::to_message(&reading).unwrap();
        assert_eq!(compact::category_of(&message), Some(0xBEEF));
        assert_eq!(compact::from_message::<Reading>(&message).unwrap(), reading);
    }

    let table = Table {
        rows: [("a".to_owned(), Some(-1)), ("b".to_owned(), None)].into(),
        blob: (0..=255).collect(),
    };
    let bytes = compact::encode(Table::CATEGORY, &table).unwrap();
    assert_eq!(compact::decode::<Table>(&bytes).unwrap(), table);
    // Compact: the 256-byte blob and the rest cost little more than the blob itself.
    assert!(bytes.len() < 256 + 20, "{} bytes", bytes.len());
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let good = compact::encode(Startup::CATEGORY, &startup()).unwrap();

    assert!(matches!(
        compact::decode::<Startup>(&[]),
        Err(AtomicError::Codec(_))
    ));
    assert!(matches!(
        compact::decode::<Startup>(&[0]),
        Err(AtomicError::Codec(_))
    ));
    for cut in 2..good.len() {
        assert!(
            compact::decode::<Startup>(&good[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[1, 2, 3]);
    let error = compact::decode::<Startup>(&trailing).unwrap_err();
    assert!(error.to_string().contains("3 bytes left over"), "{error}");

    let error = compact::decode::<Reading>(&good).unwrap_err();
    assert!(
        matches!(
            error,
            AtomicError::WrongCategory {
                expected: 0xBEEF,
                found: 1
            }
        ),
        "{error:?}"
    );

    // Invalid UTF-8 where a string is expected; an enum variant that does not exist.
    let mut bad_utf8 = compact::encode(Startup::CATEGORY, &startup()).unwrap();
    bad_utf8[4] = 0xff;
    assert!(compact::decode::<Startup>(&bad_utf8).is_err());
    let bad_variant = [0xBE, 0xEF, 9];
    assert!(compact::decode::<Reading>(&bad_variant).is_err());
    // A length prefix far past the end.
    assert!(compact::decode::<Startup>(&[0, 1, 0xff, 0xff, 0xff, 0x0f]).is_err());

    let mut rule = compact::rule(Startup::CATEGORY);
    assert!(core_pre::Rule::matches(
        &mut rule,
        &Message::binary(good.clone())
    ));
    let reading = compact::to_message(&Reading::Nothing).unwrap();
    assert!(!core_pre::Rule::matches(&mut rule, &reading));
    assert!(!core_pre::Rule::matches(
        &mut rule,
        &Message::text("\u{0}\u{1}")
    ));
    assert!(!core_pre::Rule::matches(
        &mut rule,
        &Message::binary(vec![0u8])
    ));

    let text = Message::text("hello");
    assert_eq!(compact::category_of(&text), None);
    assert!(
        compact::from_message::<Startup>(&text)
            .unwrap_err()
            .to_string()
            .contains("text message")
    );
    // Every byte string of up to 3 bytes decodes or errs, never panics.
    for a in 0..=255u8 {
        for b in [0u8, 1, 0x7f, 0x80, 0xff] {
            let _ = compact::decode::<Reading>(&[0xBE, 0xEF, a, b]);
            let _ = compact::decode::<Startup>(&[0, 1, a, b]);
        }
    }
}

#[tokio::test]
async fn typed_messages_travel_between_a_client_and_a_server() {
    let (server, mut inbox) = server::Server::builder()
        .with_address("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::channel(8);
    let client = ClientBuilder::new(WsConnector::new(WsConfig::new(server.url())))
        .with_inline_handler(move |message: &Message, _: &HandlerContext<()>| {
            if compact::category_of(message) == Some(Reading::CATEGORY) {
                let _ = seen_tx.try_send(compact::from_message::<Reading>(message));
            }
        })
        .spawn();
    client.wait_connected(WAIT).await.unwrap();

    compact::send(&client, &startup()).await.unwrap();
    let (id, message) = tokio::time::timeout(WAIT, inbox.messages.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        compact::from_message::<Startup>(&message).unwrap(),
        startup()
    );

    server
        .send_to(id, compact::to_message(&Reading::Door(false)).unwrap())
        .unwrap();
    let got = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.unwrap(), Reading::Door(false));

    client.shutdown().await.unwrap();
    server.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn a_typed_receiver_hands_out_its_category_decoded_and_reports_bad_frames() {
    let (server, mut inbox) = server::Server::builder()
        .with_address("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let (client, readings) = ClientBuilder::new(WsConnector::new(WsConfig::new(server.url())))
        .spawn_with(|m| m.add::<compact::TypedReceiver<Reading>>());
    client.wait_connected(WAIT).await.unwrap();
    let id = match tokio::time::timeout(WAIT, inbox.events.recv())
        .await
        .unwrap()
    {
        Some(server::ServerEvent::Connected(info)) => info.id,
        other => panic!("expected a connection, got {other:?}"),
    };

    let send = |message: Message| server.send_to(id, message).unwrap();
    send(compact::to_message(&Reading::Door(true)).unwrap());
    send(Message::binary(vec![0xBE, 0xEF, 9]));
    send(compact::to_message(&startup()).unwrap());
    send(Message::text("not compact"));
    send(compact::to_message(&Reading::Nothing).unwrap());

    let next = || async { readings.recv_timeout(WAIT).await.unwrap().unwrap() };
    assert_eq!(next().await.unwrap(), Reading::Door(true));
    assert!(matches!(next().await, Err(AtomicError::Codec(_))));
    // The other category and the text frame never reach this handle.
    assert_eq!(next().await.unwrap(), Reading::Nothing);
    assert!(
        readings
            .recv_timeout(Duration::from_millis(200))
            .await
            .is_err(),
        "nothing else"
    );

    client.shutdown().await.unwrap();
    server.shutdown(WAIT).await.unwrap();
}
