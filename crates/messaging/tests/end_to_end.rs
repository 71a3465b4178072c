//! The real client against the real hub (the `json` codec), the provider facade on a hub,
//! a hub bridged to nats-server with `nats`-codec clients on the same bus, and the `msg`
//! command line against the `hub`: the pieces checked against each other, not only
//! against fakes.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use messaging::client::{ClientConfig, Codec, MessagingClient, ReconnectPolicy};
use messaging::hub::Hub;
use messaging::provider::{ConnectionConfig, Handler, MessagingProvider};
use messaging::testing::NatsServer;
use messaging::{BrokerMessage, MessagingError};

const WAIT: Duration = Duration::from_secs(5);

async fn hub() -> Hub {
    Hub::builder()
        .with_address("127.0.0.1:0")
        .start()
        .await
        .expect("hub starts")
}

fn quick(url: &str, codec: Codec) -> ClientConfig {
    ClientConfig::new(url, codec)
        .with_reconnect_policy(ReconnectPolicy::fixed(Duration::from_millis(100)))
}

async fn json_client(hub: &Hub) -> MessagingClient {
    MessagingClient::connect(quick(&hub.url(), Codec::Json))
        .await
        .expect("client connects")
}

async fn recv(sub: &mut messaging::Subscription) -> BrokerMessage {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("a message within 5 s")
        .expect("stream open")
}

async fn nothing(sub: &mut messaging::Subscription) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
        panic!("unexpected {m:?}");
    }
}

/// Answers every request on `subject` with `prefix` + the request body, until dropped.
async fn responder(
    client: &MessagingClient,
    subject: &str,
    prefix: &'static str,
) -> tokio::task::JoinHandle<()> {
    let mut sub = client.subscribe(subject, None).await.unwrap();
    client.flush(WAIT).await.unwrap();
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.recv().await {
            if let Some(reply) = m.reply_to {
                let mut body = prefix.as_bytes().to_vec();
                body.extend_from_slice(&m.body);
                client.publish(reply, body).await.unwrap();
            }
        }
    })
}

#[tokio::test]
async fn json_clients_publish_subscribe_and_request_through_the_hub() {
    let hub = hub().await;
    let a = json_client(&hub).await;
    let b = json_client(&hub).await;
    assert_eq!(a.session().max_payload, hub.max_payload());
    assert_ne!(a.session().id, b.session().id);

    let mut wild = b.subscribe("orders.*.new", None).await.unwrap();
    let mut tail = b.subscribe("orders.>", None).await.unwrap();
    b.flush(WAIT).await.unwrap();
    a.publish("orders.eu.new", "1").await.unwrap();
    a.publish("orders.eu.paid", "2").await.unwrap();
    assert_eq!(&recv(&mut wild).await.body[..], b"1");
    assert_eq!(&recv(&mut tail).await.body[..], b"1");
    let paid = recv(&mut tail).await;
    assert_eq!(
        (paid.subject.as_str(), &paid.body[..]),
        ("orders.eu.paid", &b"2"[..])
    );
    nothing(&mut wild).await;

    let _serving = responder(&b, "prices.get", "price of ").await;
    let reply = a.request("prices.get", "EURUSD", WAIT).await.unwrap();
    assert_eq!(&reply.body[..], b"price of EURUSD");

    let started = Instant::now();
    let err = a.request("nobody.home", "?", WAIT).await.unwrap_err();
    assert!(
        matches!(err, MessagingError::NoResponders { ref subject } if subject == "nobody.home"),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no responders took {:?}",
        started.elapsed()
    );

    // The hub's max_payload, learned from its hello, is enforced before sending.
    let big = vec![0u8; hub.max_payload() + 1];
    assert!(matches!(
        a.publish("orders.eu.new", big).await,
        Err(MessagingError::TooLarge { .. })
    ));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_queue_group_of_json_clients_gets_each_message_once() {
    let hub = hub().await;
    let publisher = json_client(&hub).await;
    let members = [
        json_client(&hub).await,
        json_client(&hub).await,
        json_client(&hub).await,
    ];
    let mut subs = Vec::new();
    for m in &members {
        subs.push(m.subscribe("jobs.>", Some("workers")).await.unwrap());
        m.flush(WAIT).await.unwrap();
    }
    let watcher = json_client(&hub).await;
    let mut all = watcher.subscribe("jobs.>", None).await.unwrap();
    watcher.flush(WAIT).await.unwrap();
    for i in 0..60 {
        publisher
            .publish(format!("jobs.{i}"), i.to_string())
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..60 {
        seen.push(recv(&mut all).await.subject.to_string());
    }
    let mut delivered = Vec::new();
    let deadline = Instant::now() + WAIT;
    while delivered.len() < 60 && Instant::now() < deadline {
        for s in &mut subs {
            while let Some(m) = s.try_recv() {
                delivered.push(m.subject.to_string());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    delivered.sort();
    seen.sort();
    assert_eq!(delivered, seen, "each job exactly once across the group");
    for s in &mut subs {
        nothing(s).await;
    }
}

#[tokio::test]
async fn after_a_hub_restart_subscriptions_come_back_and_nothing_arrives_twice() {
    let first = hub().await;
    let addr = first.local_addr();
    let sub_client = json_client(&first).await;
    let pub_client = json_client(&first).await;
    let mut sub = sub_client.subscribe("feed.>", None).await.unwrap();
    sub_client.flush(WAIT).await.unwrap();
    pub_client.publish("feed.a", "before").await.unwrap();
    assert_eq!(&recv(&mut sub).await.body[..], b"before");
    let old_session = sub_client.session().id;

    first.shutdown(Duration::from_secs(2)).await.unwrap();
    drop(first);
    let second = Hub::builder()
        .with_address(addr.to_string())
        .start()
        .await
        .expect("same port again");
    // Connected again means a new hub session (the old one may still look up for a moment).
    let deadline = Instant::now() + WAIT;
    while sub_client.session().id == old_session || !pub_client.is_connected() {
        assert!(
            Instant::now() < deadline,
            "no new session within 5 s: {:?}",
            sub_client.state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sub_client.wait_connected(WAIT).await.unwrap();
    // A pong from the hub comes after the restored subscription was handled.
    sub_client.flush(WAIT).await.unwrap();
    pub_client.publish("feed.b", "after").await.unwrap();
    let m = recv(&mut sub).await;
    assert_eq!((m.subject.as_str(), &m.body[..]), ("feed.b", &b"after"[..]));
    nothing(&mut sub).await;
    assert_eq!(second.metrics().delivered, 1);
}

/// A handler that answers `done:` + the body and records what it saw.
#[derive(Clone, Default)]
struct Worker(Arc<Mutex<Vec<String>>>);

impl Handler for Worker {
    fn handle_message(
        &self,
        link: &str,
        message: BrokerMessage,
    ) -> BoxFuture<'static, Result<Option<Bytes>, Box<dyn std::error::Error + Send + Sync>>> {
        let seen = self.0.clone();
        let line = format!(
            "{link} {} {}",
            message.subject,
            String::from_utf8_lossy(&message.body)
        );
        async move {
            seen.lock().unwrap().push(line);
            let mut reply = b"done:".to_vec();
            reply.extend_from_slice(&message.body);
            Ok(Some(Bytes::from(reply)))
        }
        .boxed()
    }
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn the_provider_on_a_hub_links_components_and_reaches_sessions() {
    let hub = hub().await;
    let defaults =
        ConnectionConfig::from_map(&map(&[("URI", &hub.url()), ("codec", "json")])).unwrap();
    let worker = Worker::default();
    let provider = MessagingProvider::new(defaults, worker.clone());
    provider
        .receive_link_config_as_source("worker", &map(&[("Subscriptions", "jobs.*|pool")]))
        .await
        .unwrap();
    provider
        .receive_link_config_as_target("caller", &HashMap::new())
        .await
        .unwrap();

    let sessions = provider.list_sessions().await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let hub_prefix = format!("{}-", hub.id());
    assert!(
        sessions
            .iter()
            .all(|s| s.id.starts_with(&hub_prefix) && s.connected_at.is_some()),
        "{sessions:?}"
    );
    let worker_session = sessions
        .iter()
        .find(|s| s.metadata.get("link").map(String::as_str) == Some("worker"))
        .unwrap();

    let reply = provider
        .request(
            "caller",
            "jobs.build",
            Bytes::from_static(b"x1"),
            Some(WAIT),
        )
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"done:x1");

    provider
        .send_to_session(&worker_session.id, "hello worker")
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = worker.0.lock().unwrap().clone();
        if seen
            .iter()
            .any(|l| l.contains("_SESSION.") && l.ends_with("hello worker"))
        {
            assert!(
                seen.iter().any(|l| l.starts_with("worker jobs.build x1")),
                "{seen:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the session message never reached the handler: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(provider.delete_link("worker").await);
    assert_eq!(provider.list_sessions().await.len(), 1);
    provider.shutdown().await;
}

#[tokio::test]
async fn json_clients_on_a_bridged_hub_and_nats_clients_share_one_bus() {
    let nats = NatsServer::start().expect("nats-server starts (cargo xtask setup installs it)");
    let hub_a = Hub::builder()
        .with_address("127.0.0.1:0")
        .with_nats(nats.nats_url())
        .start()
        .await
        .unwrap();
    let hub_b = Hub::builder()
        .with_address("127.0.0.1:0")
        .with_nats(nats.nats_url())
        .start()
        .await
        .unwrap();
    let on_a = json_client(&hub_a).await;
    let on_b = json_client(&hub_b).await;
    let direct = MessagingClient::connect(quick(&nats.ws_url(), Codec::Nats))
        .await
        .unwrap();

    // A request from hub A, answered by a session on hub B.
    let _serving = responder(&on_b, "svc.echo", "B says ").await;
    let reply = on_a.request("svc.echo", "hi", WAIT).await.unwrap();
    assert_eq!(&reply.body[..], b"B says hi");
    // And from a plain NATS-over-WebSocket client, the same responder.
    let reply = direct.request("svc.echo", "yo", WAIT).await.unwrap();
    assert_eq!(&reply.body[..], b"B says yo");

    // A NATS client's publish reaches a session on hub A, once.
    let mut sub = on_a.subscribe("ticks.*", None).await.unwrap();
    on_a.flush(WAIT).await.unwrap();
    direct.publish("ticks.eur", "1.08").await.unwrap();
    assert_eq!(&recv(&mut sub).await.body[..], b"1.08");
    nothing(&mut sub).await;

    // `_SESSION.<id>` of a session on hub B, from a client on hub A.
    let mut inbox = on_b.subscribe_session().await.unwrap();
    on_a.publish(format!("_SESSION.{}", on_b.session().id), "psst")
        .await
        .unwrap();
    assert_eq!(&recv(&mut inbox).await.body[..], b"psst");

    let started = Instant::now();
    assert!(matches!(
        on_a.request("nobody.anywhere", "?", WAIT).await,
        Err(MessagingError::NoResponders { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Multi-threaded: the `msg` processes are waited for on this runtime's threads while the hub
/// serves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_msg_command_line_talks_json_to_the_hub() {
    let hub = hub().await;
    let msg = env!("CARGO_BIN_EXE_msg");
    let url = hub.url();
    let sub = Command::new(msg)
        .args([
            "--url", &url, "--codec", "json", "sub", "greet.*", "--count", "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Publish once the subscriber is in place: its session's implicit `_SESSION.<id>`
    // subscription and its own.
    let deadline = Instant::now() + WAIT;
    while hub.metrics().subscriptions < 2 {
        assert!(Instant::now() < deadline, "msg sub never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for body in ["one", "two"] {
        let status = Command::new(msg)
            .args(["--url", &url, "--codec", "json", "pub", "greet.world", body])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let out = tokio::task::spawn_blocking(move || sub.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "greet.world one\ngreet.world two\n"
    );

    let out = Command::new(msg)
        .args([
            "--url",
            &url,
            "--codec",
            "json",
            "req",
            "nobody",
            "x",
            "--timeout-ms",
            "2000",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no responders"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
