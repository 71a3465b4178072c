//! Secrets stay secret: session tokens, private keys and bearer tokens never appear in
//! logs, `Debug`, `Display` or error messages, on the client side and on the server side.
//!
//! A capturing tracing subscriber records everything at TRACE level, for the whole
//! process (clients, servers, proxy), while each test drives a full session through the
//! usual events and faults: connect and authenticate, stream, trade, call, reconnect and
//! re-authenticate after a cut, time out, get rejected, paste a broken SSID. Then neither
//! the captured logs nor anything the test printed may contain a secret. The capture is
//! checked to be real (it holds the connectors' authentication lines), so a silent
//! subscriber cannot pass the test.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use binary_options_tools::{Decimal, Matcher, PocketOption, RealSession, Ssid, SubscriptionKind};
use client_ws::auth::KeyPair;
use client_ws::server::{ReferenceServer, ServerConfig};
use client_ws::{CircleWsClientBuilder, WsConfig};
use pocketoption_sim::{AuthPolicy, MalformedFrame};
use reliability::FaultProxy;
use serde_json::json;
use support::{ASSET, UID, WAIT, fast_sim, next_candle, po_builder, until, within};

type Buffer = Arc<Mutex<Vec<u8>>>;

struct CaptureWriter(Buffer);

impl Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide capturing subscriber (once) and returns its buffer.
fn capture() -> Buffer {
    static CAPTURE: OnceLock<Buffer> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let buffer = Buffer::default();
            let writer = buffer.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || CaptureWriter(writer.clone()))
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other subscriber in this test binary");
            buffer
        })
        .clone()
}

fn logs(buffer: &Buffer) -> String {
    String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// Fails with the offending line if any secret appears in the logs or in what was shown.
fn assert_nowhere(secrets: &[&str], logs: &str, shown: &[String]) {
    for secret in secrets {
        if let Some(line) = logs.lines().find(|line| line.contains(secret)) {
            panic!("a secret reached the logs: {line}");
        }
        for text in shown {
            assert!(!text.contains(secret), "a secret was shown: {text}");
        }
    }
}

const DEMO_TOKEN: &str = "sEcReT-demo-token-4f1d9a";
const REAL_SESSION_ID: &str = "5ec4e75e551d0000c0ffee1234abcd99";
const REAL_SIGNATURE: &str = "51c0ffee0badc0de5ec4e7519a7b2e11";
const REJECTED_TOKEN: &str = "sEcReT-rejected-token-88aa";
const USER_AGENT: &str = "reliability-tests/1.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_token_reaches_logs_debug_display_or_errors_in_a_pocketoption_session() {
    let buffer = capture();
    let mut shown: Vec<String> = Vec::new();
    let sim = fast_sim().start().await.unwrap();
    let proxy = FaultProxy::start(sim.addr()).await.unwrap();
    let url = proxy.ws_url(&sim.url());

    // A demo session through the usual events and faults.
    let client = within("connect", po_builder(&url, DEMO_TOKEN).connect())
        .await
        .unwrap();
    let mut ticks = within(
        "subscribe",
        client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    let deal = within(
        "an order",
        client.buy(ASSET, Decimal::ONE, Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let result = within("a result", client.result(&deal.id)).await.unwrap();
    shown.push(format!("{deal:?} {result:?}"));
    within("history", client.candles(ASSET, Duration::from_secs(60), 5))
        .await
        .unwrap();
    assert_eq!(sim.send_malformed(MalformedFrame::TooManyAttachments), 1);
    until("the bad frame to be counted", || {
        client.malformed_frames() >= 1
    })
    .await;
    proxy.cut_all();
    until("the reconnect, which authenticates again", || {
        client.statistics().reconnects == 1 && client.is_connected()
    })
    .await;
    proxy.set_stalled(true);
    let timeout = within(
        "a call on a stalled link",
        client.raw().send_and_wait(
            r#"42["getBalance"]"#,
            // Nothing answers this (a balance push in flight could answer a balance matcher).
            Matcher::event("noSuchReply"),
            Duration::from_millis(200),
        ),
    )
    .await
    .unwrap_err();
    proxy.set_stalled(false);
    shown.push(format!("{timeout} {timeout:?}"));
    shown.push(format!("{client:?} {client:#?}"));
    shown.push(format!("{:?} {:#?}", client.ssid(), client.ssid()));
    shown.push(client.ssid().to_string());
    within("shutdown", client.shutdown()).await.unwrap();
    let closed = client.balance().await.unwrap_err();
    shown.push(format!("{closed} {closed:?}"));

    // A real-account session.
    let real = Ssid::real(
        RealSession::new(
            REAL_SESSION_ID,
            "127.0.0.1",
            USER_AGENT,
            1_700_000_000,
            REAL_SIGNATURE,
        ),
        UID + 1,
    );
    shown.push(format!("{real:?} {real:#?} {real}"));
    shown.push(format!("{:?}", real.real_session()));
    let client = within(
        "connect a real session",
        PocketOption::builder(real)
            .with_url(&url)
            .only_given_urls()
            .connect(),
    )
    .await
    .unwrap();
    within("balance", client.balance()).await.unwrap();
    shown.push(format!("{client:?}"));
    within("shutdown", client.shutdown()).await.unwrap();

    // A rejected session.
    let strict = fast_sim()
        .with_auth_policy(AuthPolicy::RejectAll)
        .start()
        .await
        .unwrap();
    let rejected = within(
        "the rejection",
        po_builder(&strict.url(), REJECTED_TOKEN).connect(),
    )
    .await
    .unwrap_err();
    shown.push(format!("{rejected} {rejected:?}"));

    // SSIDs pasted wrong, each carrying a token.
    let real_cut_short = Ssid::real(
        RealSession::new(REAL_SESSION_ID, "127.0.0.1", USER_AGENT, 1, REAL_SIGNATURE),
        UID,
    )
    .auth_payload()
    .replace(REAL_SIGNATURE, &REAL_SIGNATURE[..7]);
    for pasted in [
        format!(r#"42["auth",{{"session":"{DEMO_TOKEN}","isDemo":1,"uid":"#),
        format!(r#"{{"session":"{DEMO_TOKEN}","isDemo":"yes","uid":1,"platform":2}}"#),
        format!(r#"42["other",{{"session":"{DEMO_TOKEN}"}}]"#),
        format!(r#"{{"session":"{DEMO_TOKEN}","isDemo":1}}"#),
        real_cut_short,
    ] {
        let error = Ssid::parse(&pasted).expect_err("a broken SSID");
        let error = binary_options_tools::Error::from(error);
        shown.push(format!("{error} {error:?}"));
    }

    proxy.shutdown().await;
    sim.shutdown().await.unwrap();
    strict.shutdown().await.unwrap();

    // Events at TRACE level from any task and thread reach the capture.
    tokio::spawn(async { tracing::trace!("capture canary") })
        .await
        .unwrap();
    let logs = logs(&buffer);
    assert!(logs.contains("capture canary"), "TRACE events are captured");
    assert!(
        logs.contains("authenticated") && logs.contains("DEBUG") && logs.lines().count() > 50,
        "the capture is real: {} lines",
        logs.lines().count()
    );
    assert!(
        logs.contains("more than the limit of 10"),
        "the attachment limit is logged with a clear reason"
    );
    assert_nowhere(
        &[DEMO_TOKEN, REAL_SESSION_ID, REAL_SIGNATURE, REJECTED_TOKEN],
        &logs,
        &shown,
    );
}

const CIRCLE_KEY: &str = "5ec2e7a1d03b9f4c68e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
const REFUSED_KEY: &str = "7a1d03b9f4c68e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f75ec2e";
const BEARER: &str = "sEcReT-bearer-91ab";
const QUERY_TOKEN: &str = "sEcReTquery77";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_private_key_or_token_reaches_logs_debug_or_errors_in_a_circle_session() {
    let buffer = capture();
    let mut shown: Vec<String> = Vec::new();
    let server = ReferenceServer::start(ServerConfig::new()).await.unwrap();
    let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
    let url = format!("{}/rpc?token={QUERY_TOKEN}", proxy.ws_url(&server.url()));

    let builder = CircleWsClientBuilder::new(&url)
        .with_keypair(CIRCLE_KEY)
        .configure_transport(|ws| ws.with_bearer_token(BEARER))
        .with_request_timeout(Duration::from_secs(2))
        .with_connect_wait(WAIT);
    shown.push(format!("{builder:?} {builder:#?}"));
    let client = builder.build().unwrap();
    within("connect", client.connect()).await.unwrap();
    let me = client.public_key().unwrap().to_owned();
    assert_eq!(within("whoami", client.play("whoami")).await.unwrap(), me);
    let mut notes = client.notifications();
    within("notify", client.play("notify hello {\"n\":1}"))
        .await
        .unwrap();
    within("the notification", notes.recv()).await.unwrap();
    let unknown = within("an unknown method", client.call("nope", json!({})))
        .await
        .unwrap_err();
    let slow = within(
        "a slow call",
        client.call_with_timeout(
            "play",
            json!({"script": "sleep 1000"}),
            Duration::from_millis(100),
        ),
    )
    .await
    .unwrap_err();
    shown.push(format!("{unknown} {unknown:?} {slow} {slow:?}"));
    proxy.cut_all();
    assert!(
        server
            .wait_for(WAIT, |s| s.authenticated == 2)
            .await
            .is_some(),
        "re-authenticated after the cut"
    );
    shown.push(format!("{client:?} {client:#?}"));
    within("shutdown", client.shutdown()).await.unwrap();

    // A key the server refuses, a key that does not parse, a key shown on its own.
    let picky = ReferenceServer::start(
        ServerConfig::new()
            .with_allowed_keys([KeyPair::from_hex(CIRCLE_KEY).unwrap().public_key_hex()])
            .unwrap(),
    )
    .await
    .unwrap();
    let refused = CircleWsClientBuilder::new(picky.url())
        .with_keypair(REFUSED_KEY)
        .with_connect_wait(WAIT)
        .build()
        .unwrap();
    let rejected = within("the rejection", refused.connect())
        .await
        .unwrap_err();
    shown.push(format!("{rejected} {rejected:?} {refused:?}"));
    let garbled = format!("{}zz", &CIRCLE_KEY[..62]);
    let invalid = CircleWsClientBuilder::new(picky.url()).with_keypair(&garbled);
    shown.push(format!("{invalid:?}"));
    let invalid = invalid.build().unwrap_err();
    shown.push(format!("{invalid} {invalid:?}"));
    let key = KeyPair::from_hex(CIRCLE_KEY).unwrap();
    shown.push(format!("{key:?} {key:#?} {:?}", key.credentials("nonce")));
    let config = WsConfig::new(&url).with_bearer_token(BEARER);
    shown.push(format!("{config:?} {config:#?}"));

    proxy.shutdown().await;
    server.shutdown().await;
    picky.shutdown().await;

    let logs = logs(&buffer);
    assert!(
        logs.contains("authenticated") && logs.contains(&me),
        "the capture is real: it holds the authentication lines"
    );
    assert_nowhere(
        &[
            CIRCLE_KEY,
            &CIRCLE_KEY.to_uppercase(),
            &CIRCLE_KEY[..24],
            REFUSED_KEY,
            &REFUSED_KEY[..24],
            &garbled[..24],
            BEARER,
            QUERY_TOKEN,
        ],
        &logs,
        &shown,
    );
}

const SERVER_TOKEN: &str = "sEcReT-server-token-77c1";
const GUESSED_TOKEN: &str = "sEcReT-guessed-token-0b2e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_logs_debug_or_errors_on_the_server_side() {
    use server::{Identity, Server, ServerEvent, TokenAuth};

    let buffer = capture();
    let mut shown: Vec<String> = Vec::new();
    let auth = TokenAuth::new().with_token(SERVER_TOKEN, Identity::new("alice"));
    shown.push(format!("{auth:?}"));
    let builder = Server::builder()
        .with_address("127.0.0.1:0")
        .with_authenticator(auth);
    shown.push(format!("{:?}", builder.config()));
    let (server, mut inbox) = within("the server", builder.start()).await.unwrap();
    let addr = server.local_addr();

    // A core-pre client with the token in the Authorization header, one with it in the
    // query (the browser way), and one with a wrong token.
    let (client, runner) = core_pre::ClientBuilder::new(client_ws::WsConnector::new(
        WsConfig::new(format!("ws://{addr}/")).with_bearer_token(SERVER_TOKEN),
    ))
    .build();
    let runner = runner.spawn();
    within("the header client", client.wait_connected(WAIT))
        .await
        .unwrap();
    within("a message", client.send("hello")).await.unwrap();
    let (mut by_query, _) = within(
        "the query client",
        tokio_tungstenite::connect_async(format!("ws://{addr}/?token={SERVER_TOKEN}")),
    )
    .await
    .unwrap();
    let refused = within(
        "the refusal",
        tokio_tungstenite::connect_async(format!("ws://{addr}/?token={GUESSED_TOKEN}")),
    )
    .await
    .unwrap_err();
    shown.push(format!("{refused} {refused:?}"));
    let mut events = Vec::new();
    while events.len() < 2 {
        let event = within("the connect events", inbox.events.recv())
            .await
            .unwrap();
        if matches!(event, ServerEvent::Connected(_)) {
            events.push(event);
        }
    }
    let (id, message) = within("the message", inbox.messages.recv()).await.unwrap();
    shown.push(format!("{events:?} {id:?} {message:?}"));
    for session in server.sessions() {
        shown.push(format!("{session:?} {session:#?}"));
    }
    shown.push(format!("{server:?} {:?}", server.metrics()));
    let _ = futures::SinkExt::close(&mut by_query).await;
    within("the client's shutdown", client.shutdown())
        .await
        .unwrap();
    drop(runner);
    let report = within("the server's shutdown", server.shutdown(WAIT))
        .await
        .unwrap();
    shown.push(format!("{report:?}"));

    let logs = logs(&buffer);
    assert!(
        logs.contains("session started") && logs.contains("upgrade refused"),
        "the capture is real: it holds the server's session and refusal lines"
    );
    assert!(
        shown.iter().any(|s| s.contains("alice")),
        "what was shown names the identity"
    );
    assert_nowhere(&[SERVER_TOKEN, GUESSED_TOKEN], &logs, &shown);
}
