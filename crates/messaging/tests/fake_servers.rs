//! The client against servers written here: a "NATS server" that sends garbage or
//! oversized messages (a clear error, no panic, no hang), and a small hub speaking the
//! `json` envelope with `messaging::json` frames (the real hub is tested end to end after
//! the merge).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use messaging::client::{ClientConfig, Codec, MessagingClient};
use messaging::json::{ClientFrame, HubFrame};
use messaging::{ErrorCode, MessagingError, Pattern};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{WebSocketStream, accept_async};

const WAIT: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<tokio::net::TcpStream>;

/// Serves every connection with `script` (each in its own task); returns the URL.
async fn serve<F, Fut>(script: F) -> String
where
    F: Fn(Ws, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let script = Arc::new(script);
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            n += 1;
            let index = n;
            tokio::spawn(async move {
                if let Ok(ws) = accept_async(stream).await {
                    script(ws, index).await;
                }
            });
        }
    });
    url
}

fn nats_config(url: &str) -> ClientConfig {
    ClientConfig::new(url, Codec::Nats)
        .with_connect_timeout(Duration::from_millis(800))
        .with_reconnect_policy(
            messaging::client::ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(100)),
        )
}

/// INFO, then waits for CONNECT + PING and answers PONG.
async fn nats_handshake(ws: &mut Ws, max_payload: usize) {
    let info = format!(
        "INFO {{\"server_id\":\"FAKE\",\"max_payload\":{max_payload},\"headers\":true}}\r\n"
    );
    ws.send(WsMessage::Binary(Bytes::from(info))).await.unwrap();
    let mut seen = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        seen.extend_from_slice(&msg.into_data());
        if seen.windows(6).any(|w| w == b"PING\r\n") {
            break;
        }
    }
    ws.send(WsMessage::Binary(Bytes::from_static(b"PONG\r\n")))
        .await
        .unwrap();
}

/// Reads until a frame holding `needle` arrives.
async fn wait_for(ws: &mut Ws, needle: &[u8]) {
    while let Some(Ok(msg)) = ws.next().await {
        if msg.into_data().windows(needle.len()).any(|w| w == needle) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_info_is_a_clear_connect_error() {
    let url = serve(|mut ws, _| async move {
        let _ = ws
            .send(WsMessage::Binary(Bytes::from_static(
                b"HTTP/1.1 418 teapot\r\n",
            )))
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let started = Instant::now();
    let err = MessagingClient::connect(nats_config(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MessagingError::BrokerUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not the NATS protocol"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_says_info_does_not_hang_connect() {
    let url = serve(|ws, _| async move {
        let _silent = ws;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let started = Instant::now();
    let err = MessagingClient::connect(nats_config(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MessagingError::BrokerUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("did not finish"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// After a good handshake the server answers the first PUB with `bad`; the connection must
/// end with an error naming the problem, and the waiting request must fail at once.
async fn broken_after_handshake(bad: &'static [u8], expect: &str) {
    let url = serve(move |mut ws, _| async move {
        nats_handshake(&mut ws, 100).await;
        wait_for(&mut ws, b"PUB ").await;
        let _ = ws.send(WsMessage::Binary(Bytes::from_static(bad))).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let client = MessagingClient::connect(nats_config(&url)).await.unwrap();
    assert_eq!(client.max_payload(), 100);
    let mut states = client.watch_state();
    let started = Instant::now();
    let err = client
        .request("svc", "x", Duration::from_secs(20))
        .await
        .unwrap_err();
    assert_eq!(err, MessagingError::NotConnected);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The state says why the connection went.
    let state = tokio::time::timeout(WAIT, async {
        loop {
            let state = states.borrow_and_update().clone();
            if let messaging::client::ConnectionState::Reconnecting { last_error, .. } = &state {
                if last_error.contains(expect) {
                    return state;
                }
            }
            states.changed().await.unwrap();
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no reconnecting state naming {expect:?}: {}",
            client.state()
        )
    });
    assert!(state.to_string().contains(expect));
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_ends_the_connection_with_a_clear_error() {
    broken_after_handshake(b"MSG a 1 1000000\r\n", "over the 100-byte limit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_control_line_ends_the_connection_with_a_clear_error() {
    static LONG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let long = LONG.get_or_init(|| {
        let mut v = b"MSG ".to_vec();
        v.resize(5000, b'a');
        v
    });
    broken_after_handshake(long, "longer than 4096 bytes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_garbage_mid_stream_ends_the_connection_with_a_clear_error() {
    broken_after_handshake(b"\x00\xff\x13garbage", "not the NATS protocol").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_mapped_and_fail_the_request_they_concern() {
    let url = serve(|mut ws, _| async move {
        nats_handshake(&mut ws, 1000).await;
        wait_for(&mut ws, b"PUB svc.locked").await;
        let _ = ws
            .send(WsMessage::Binary(Bytes::from_static(
                b"-ERR 'Permissions Violation for Publish to \"svc.locked\"'\r\n",
            )))
            .await;
        wait_for(&mut ws, b"PUB big").await;
        let _ = ws
            .send(WsMessage::Binary(Bytes::from_static(
                b"-ERR 'Maximum Payload Violation'\r\n",
            )))
            .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let client = MessagingClient::connect(nats_config(&url)).await.unwrap();
    let started = Instant::now();
    let err = client
        .request("svc.locked", "x", Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MessagingError::AccessDenied { subject, message } if subject == "svc.locked" && message.contains("Permissions Violation")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    client.publish("big", vec![1u8; 700]).await.unwrap();
    tokio::time::timeout(WAIT, async {
        while client.server_errors() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        client.last_error(),
        Some(MessagingError::TooLarge {
            size: 700,
            max: 1000
        })
    );
    client.shutdown().await;
}

// ----- a small json hub -----

#[derive(Default)]
struct HubLog {
    /// The frames each connection received, in order.
    connections: Vec<Vec<ClientFrame>>,
}

const HUB_MAX_PAYLOAD: usize = 64;

/// One connection of the fake hub: hello, then routing between this connection's own
/// subscriptions; `drop.me` closes the connection.
async fn hub_connection(mut ws: Ws, index: usize, log: Arc<Mutex<HubLog>>) {
    let hello = HubFrame::Hello {
        session: format!("session-{index}"),
        max_payload: HUB_MAX_PAYLOAD,
    };
    if ws
        .send(WsMessage::Text(hello.encode().into()))
        .await
        .is_err()
    {
        return;
    }
    let slot = {
        let mut log = log.lock().unwrap();
        log.connections.push(Vec::new());
        log.connections.len() - 1
    };
    let mut subs: Vec<(String, Pattern)> = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        let WsMessage::Text(text) = msg else { continue };
        let frame = match ClientFrame::decode(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => {
                let err = HubFrame::Err {
                    code: ErrorCode::BadFrame,
                    message: e.to_string(),
                    subject: None,
                };
                let _ = ws.send(WsMessage::Text(err.encode().into())).await;
                continue;
            }
        };
        log.lock().unwrap().connections[slot].push(frame.clone());
        let mut out = Vec::new();
        match frame {
            ClientFrame::Sub { sid, subject, .. } => {
                subs.push((sid, Pattern::new(&subject).unwrap()));
            }
            ClientFrame::Unsub { sid } => subs.retain(|(s, _)| *s != sid),
            ClientFrame::Ping => out.push(HubFrame::Pong),
            ClientFrame::Publish {
                subject,
                body,
                reply_to,
            } => {
                if subject == "drop.me" {
                    return;
                }
                if subject == format!("_SESSION.session-{index}") {
                    // The hub's implicit subscription, under a sid of its own.
                    out.push(HubFrame::Msg {
                        sid: "session".into(),
                        subject: subject.clone(),
                        body: body.clone(),
                        reply_to: None,
                    });
                }
                if subject == "say.garbage" {
                    let _ = ws.send(WsMessage::Text("{not json".into())).await;
                    continue;
                }
                let matching: Vec<&String> = subs
                    .iter()
                    .filter(|(_, p)| p.matches(&subject))
                    .map(|(sid, _)| sid)
                    .collect();
                if matching.is_empty() && reply_to.is_some() {
                    out.push(HubFrame::Err {
                        code: ErrorCode::NoResponders,
                        message: "no responders".into(),
                        subject: Some(subject.clone()),
                    });
                }
                for sid in matching {
                    out.push(HubFrame::Msg {
                        sid: sid.clone(),
                        subject: subject.clone(),
                        body: body.clone(),
                        reply_to: reply_to.clone(),
                    });
                }
            }
        }
        for frame in out {
            if ws
                .send(WsMessage::Text(frame.encode().into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

async fn fake_hub() -> (String, Arc<Mutex<HubLog>>) {
    let log = Arc::new(Mutex::new(HubLog::default()));
    let shared = log.clone();
    let url = serve(move |ws, index| hub_connection(ws, index, shared.clone())).await;
    (url, log)
}

fn json_config(url: &str) -> ClientConfig {
    ClientConfig::new(url, Codec::Json)
        .with_connect_timeout(Duration::from_secs(2))
        .with_reconnect_policy(
            messaging::client::ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(50)),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_codec_publishes_subscribes_and_requests_through_the_hub() {
    let (url, _log) = fake_hub().await;
    let client = MessagingClient::connect(json_config(&url)).await.unwrap();
    assert_eq!(client.session().id, "session-1");
    assert_eq!(client.max_payload(), HUB_MAX_PAYLOAD);

    let mut sub = client.subscribe("news.>", None).await.unwrap();
    client.flush(WAIT).await.unwrap();
    client
        .publish("news.eu", &b"\x00bin\xff"[..])
        .await
        .unwrap();
    let m = tokio::time::timeout(WAIT, sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.body[..]),
        ("news.eu", &b"\x00bin\xff"[..])
    );

    // A responder in the same client answers through the inbox.
    let mut service = client.subscribe("svc.upper", None).await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(msg) = service.recv().await {
            let reply = msg.reply_to.clone().unwrap();
            let upper = String::from_utf8_lossy(&msg.body).to_uppercase();
            responder.publish(reply, upper).await.unwrap();
        }
    });
    let reply = client.request("svc.upper", "abc", WAIT).await.unwrap();
    assert_eq!(&reply.body[..], b"ABC");

    // No responders: the hub's err frame fails the request at once.
    let started = Instant::now();
    let err = client
        .request("nobody.home", "x", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        MessagingError::NoResponders {
            subject: "nobody.home".into()
        }
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // max_payload from hello.
    assert_eq!(
        client.publish("news.eu", vec![0u8; 65]).await.unwrap_err(),
        MessagingError::TooLarge { size: 65, max: 64 }
    );

    // A bad frame from the hub is reported, and the connection stays.
    client.publish("say.garbage", "x").await.unwrap();
    client.flush(WAIT).await.unwrap();
    assert!(
        matches!(client.last_error(), Some(MessagingError::Protocol { message }) if message.contains("bad frame")),
        "{:?}",
        client.last_error()
    );
    assert!(client.is_connected());
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_codec_resubscribes_before_publishing_after_a_drop() {
    let (url, log) = fake_hub().await;
    let client = MessagingClient::connect(json_config(&url)).await.unwrap();
    let mut sub = client.subscribe("a.*", Some("grp")).await.unwrap();
    client.flush(WAIT).await.unwrap();
    client.publish("drop.me", "bye").await.unwrap();
    // Reconnects by itself, to a new session.
    tokio::time::timeout(WAIT, async {
        while client.session().id != "session-2" || !client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("reconnected to a new session");
    client.publish("a.b", "after").await.unwrap();
    let m = tokio::time::timeout(WAIT, sub.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.body[..], b"after");

    let log = log.lock().unwrap();
    let second = &log.connections[1];
    let first_publish = second
        .iter()
        .position(|f| matches!(f, ClientFrame::Publish { .. }))
        .unwrap();
    let subs: Vec<&ClientFrame> = second[..first_publish]
        .iter()
        .filter(|f| matches!(f, ClientFrame::Sub { .. }))
        .collect();
    assert_eq!(
        subs.len(),
        2,
        "the inbox and a.* before any publish: {second:?}"
    );
    assert!(subs.iter().any(|f| matches!(f, ClientFrame::Sub { subject, queue: Some(q), .. } if subject == "a.*" && q == "grp")));
    assert!(subs.iter().any(|f| matches!(f, ClientFrame::Sub { subject, sid, .. } if subject.starts_with("_INBOX.") && subject.ends_with(".*") && sid == "0")));
    // Each connection had its own inbox.
    let inbox = |conn: &Vec<ClientFrame>| {
        conn.iter()
            .find_map(|f| match f {
                ClientFrame::Sub { sid, subject, .. } if sid == "0" => Some(subject.clone()),
                _ => None,
            })
            .unwrap()
    };
    assert_ne!(inbox(&log.connections[0]), inbox(second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_session_messages_follow_the_session_the_hub_assigned() {
    let (url, log) = fake_hub().await;
    let client = MessagingClient::connect(json_config(&url)).await.unwrap();
    let mut session = client.subscribe_session().await.unwrap();
    let mut witness = client.subscribe("w", None).await.unwrap();
    client.publish("_SESSION.session-1", "one").await.unwrap();
    let m = tokio::time::timeout(WAIT, session.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.body[..]),
        ("_SESSION.session-1", &b"one"[..])
    );

    client.publish("drop.me", "bye").await.unwrap();
    tokio::time::timeout(WAIT, async {
        while client.session().id != "session-2" || !client.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("reconnected to a new session");
    client.publish("_SESSION.session-2", "two").await.unwrap();
    let m = tokio::time::timeout(WAIT, session.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.body[..], b"two");
    // The implicit subscription is never sent to the hub (nor unsubscribed).
    client.publish("w", "sync").await.unwrap();
    tokio::time::timeout(WAIT, witness.recv())
        .await
        .unwrap()
        .unwrap();
    drop(session);
    client.flush(WAIT).await.unwrap();
    let log = log.lock().unwrap();
    for frame in log.connections.iter().flatten() {
        if let ClientFrame::Sub { subject, .. } = frame {
            assert!(!subject.starts_with("_SESSION"), "{frame:?}");
        }
        assert!(!matches!(frame, ClientFrame::Unsub { .. }), "{frame:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_sends_no_hello_is_a_clear_error() {
    let url = serve(|mut ws, _| async move {
        let _ = ws.send(WsMessage::Text("not json at all".into())).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let err = MessagingClient::connect(
        json_config(&url).with_connect_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not the json envelope"), "{err}");
}

/// Forwards every message the provider hands it.
struct Forward(tokio::sync::mpsc::UnboundedSender<messaging::BrokerMessage>);

impl messaging::provider::Handler for Forward {
    fn handle_message(
        &self,
        _link: &str,
        message: messaging::BrokerMessage,
    ) -> messaging::provider::BoxFuture<'static, Result<Option<Bytes>, messaging::provider::BoxError>>
    {
        let _ = self.0.send(message);
        Box::pin(async { Ok(None) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_link_lists_the_hubs_session_and_receives_what_is_sent_to_it() {
    use messaging::provider::{ConnectionConfig, MessagingProvider};
    use std::collections::HashMap;
    let (url, _log) = fake_hub().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let defaults = ConnectionConfig::from_map(&HashMap::from([
        ("uri".to_string(), url),
        ("codec".to_string(), "json".to_string()),
    ]))
    .unwrap();
    let provider = MessagingProvider::new(defaults, Forward(tx));
    provider
        .receive_link_config_as_source("j", &HashMap::new())
        .await
        .unwrap();
    let sessions = provider.list_sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, "session-1");
    assert_eq!(sessions[0].metadata["codec"], "json");
    provider.send_to_session("session-1", "hi").await.unwrap();
    let m = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.body[..]),
        ("_SESSION.session-1", &b"hi"[..])
    );
    provider.shutdown().await;
}
