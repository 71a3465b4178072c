//! The provider facade against a real nats-server: links from string maps, the handler
//! with its in-flight cap, sessions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use messaging::BrokerMessage;
use messaging::MessagingError;
use messaging::client::{ClientConfig, Codec, MessagingClient};
use messaging::provider::{
    ConfigError, ConnectionConfig, Handler, MessagingProvider, NoHandler, ProviderError,
};
use messaging::testing::NatsServer;
use tokio::sync::{Semaphore, mpsc};

const WAIT: Duration = Duration::from_secs(5);

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn defaults(server: &NatsServer, extra: &[(&str, &str)]) -> ConnectionConfig {
    let mut pairs = vec![
        ("uri", server.ws_url()),
        ("connect_timeout_ms", "3000".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ConnectionConfig::from_map(&map(&pairs)).unwrap()
}

/// Records every message, answers requests with the body upper-cased, and waits on `gate`
/// first (a closed gate holds every call in flight).
struct Recorder {
    seen: mpsc::UnboundedSender<(String, BrokerMessage)>,
    gate: Arc<Semaphore>,
}

impl Handler for Recorder {
    fn handle_message(
        &self,
        link: &str,
        message: BrokerMessage,
    ) -> messaging::provider::BoxFuture<'static, Result<Option<Bytes>, messaging::provider::BoxError>>
    {
        let seen = self.seen.clone();
        let gate = self.gate.clone();
        let link = link.to_owned();
        Box::pin(async move {
            let _pass = gate.acquire().await?;
            let upper = Bytes::from(String::from_utf8_lossy(&message.body).to_uppercase());
            let _ = seen.send((link, message));
            Ok(Some(upper))
        })
    }
}

fn recorder(
    open: bool,
) -> (
    Recorder,
    mpsc::UnboundedReceiver<(String, BrokerMessage)>,
    Arc<Semaphore>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(if open {
        Semaphore::MAX_PERMITS
    } else {
        0
    }));
    (
        Recorder {
            seen: tx,
            gate: gate.clone(),
        },
        rx,
        gate,
    )
}

async fn outsider(server: &NatsServer) -> MessagingClient {
    MessagingClient::connect(ClientConfig::new(server.ws_url(), Codec::Nats))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_link_feeds_the_handler_and_answers_requests() {
    let server = NatsServer::start().unwrap();
    let (handler, mut seen, _gate) = recorder(true);
    let provider = MessagingProvider::new(defaults(&server, &[]), handler);
    provider
        .receive_link_config_as_source(
            "worker",
            &map(&[("subscriptions", "svc.upper,jobs.*|pool")]),
        )
        .await
        .unwrap();
    let other = outsider(&server).await;
    let reply = other.request("svc.upper", "abc", WAIT).await.unwrap();
    assert_eq!(&reply.body[..], b"ABC");
    other.publish("jobs.one", "j").await.unwrap();
    let (link, first) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (link.as_str(), first.subject.as_str()),
        ("worker", "svc.upper")
    );
    let (_, second) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.subject.as_str(), "jobs.one");
    let stats = provider.handler_stats();
    assert_eq!((stats.handled, stats.shed, stats.failed), (2, 0, 0));

    // Deleting the link stops the deliveries.
    assert!(provider.delete_link("worker").await);
    assert!(!provider.delete_link("worker").await);
    other.flush(WAIT).await.unwrap();
    assert!(matches!(
        other.request("svc.upper", "abc", WAIT).await,
        Err(MessagingError::NoResponders { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_cap_sheds_what_cannot_wait_and_counts_it() {
    let server = NatsServer::start().unwrap();
    let (handler, mut seen, gate) = recorder(false);
    let provider = MessagingProvider::new(
        defaults(
            &server,
            &[("max_in_flight", "2"), ("handler_wait_ms", "100")],
        ),
        handler,
    );
    provider
        .receive_link_config_as_source("busy", &map(&[("subscriptions", "work")]))
        .await
        .unwrap();
    let other = outsider(&server).await;
    for i in 0..5 {
        other.publish("work", i.to_string()).await.unwrap();
    }
    other.flush(WAIT).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while provider.handler_stats().shed < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = provider.handler_stats();
    assert_eq!(
        (stats.handled, stats.shed, stats.in_flight),
        (2, 3, 2),
        "{stats:?}"
    );
    // Open the gate: the two in flight finish, nothing else was kept.
    gate.add_permits(100);
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let (_, m) = tokio::time::timeout(WAIT, seen.recv())
            .await
            .unwrap()
            .unwrap();
        bodies.push(String::from_utf8(m.body.to_vec()).unwrap());
    }
    bodies.sort();
    assert_eq!(bodies, ["0", "1"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), seen.recv())
            .await
            .is_err()
    );
    let deadline = Instant::now() + WAIT;
    while provider.handler_stats().in_flight > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(provider.handler_stats().in_flight, 0);
    // A new message finds a free slot again.
    other.publish("work", "late").await.unwrap();
    let (_, m) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.body[..], b"late");
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_per_link_and_reachable() {
    let server = NatsServer::start().unwrap();
    let (handler, mut seen, _gate) = recorder(true);
    let provider = MessagingProvider::new(defaults(&server, &[]), handler);
    provider
        .receive_link_config_as_target("caller", &map(&[]))
        .await
        .unwrap();
    provider
        .receive_link_config_as_source("callee", &map(&[("subscriptions", "x.y")]))
        .await
        .unwrap();
    provider
        .receive_link_config_as_target("hidden", &map(&[("enable_session_tracking", "false")]))
        .await
        .unwrap();
    assert_eq!(provider.links().await, ["callee", "caller", "hidden"]);
    let sessions = provider.list_sessions().await;
    let links: Vec<&str> = sessions
        .iter()
        .map(|s| s.metadata["link"].as_str())
        .collect();
    assert_eq!(links, ["callee", "caller"]);
    assert_ne!(sessions[0].id, sessions[1].id);
    assert_eq!(sessions[0].metadata["role"], "source");
    assert_eq!(sessions[1].metadata["role"], "target");
    assert_eq!(sessions[0].metadata["codec"], "nats");
    assert_eq!(sessions[0].metadata["state"], "connected");
    assert!(sessions[0].connected_at.is_some());

    // send_to_session reaches the link's session; the handler sees it.
    let callee = sessions[0].id.clone();
    provider.send_to_session(&callee, "direct").await.unwrap();
    let (link, m) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link, "callee");
    assert_eq!(m.subject.as_str(), format!("_SESSION.{callee}"));
    assert_eq!(&m.body[..], b"direct");

    // Target links publish and request through their own session.
    provider
        .publish(
            "caller",
            &BrokerMessage::new(messaging::Subject::new("x.y").unwrap(), "via-caller"),
        )
        .await
        .unwrap();
    let (_, m) = tokio::time::timeout(WAIT, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.body[..], b"via-caller");
    let reply = provider.request("caller", "x.y", "q", None).await.unwrap();
    assert_eq!(&reply.body[..], b"Q");
    assert!(matches!(
        provider.request("caller", "nobody", "q", None).await,
        Err(ProviderError::Messaging(
            MessagingError::NoResponders { .. }
        ))
    ));

    assert!(provider.delete_link("callee").await);
    assert_eq!(provider.list_sessions().await.len(), 1);
    provider.shutdown().await;
    assert!(provider.list_sessions().await.is_empty());
    assert!(provider.links().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_are_refused_with_the_reason() {
    let server = NatsServer::start().unwrap();
    let provider = MessagingProvider::new(defaults(&server, &[]), NoHandler);
    let err = provider
        .receive_link_config_as_target("x", &map(&[("max_in_flight", "many")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Config(ConfigError::BadValue { key, .. }) if key == "max_in_flight"),
        "{err}"
    );
    let bare = MessagingProvider::new(ConnectionConfig::default(), NoHandler);
    let err = bare
        .receive_link_config_as_target("x", &map(&[]))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Config(ConfigError::Missing { key: "uri" })
    );
    let err = provider
        .publish(
            "nope",
            &BrokerMessage::new(messaging::Subject::new("a").unwrap(), ""),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::UnknownLink(_)), "{err}");
    // A link the broker refuses is not kept.
    let err = provider
        .receive_link_config_as_target(
            "bad",
            &map(&[("uri", "ws://127.0.0.1:1"), ("connect_timeout_ms", "300")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Messaging(MessagingError::BrokerUnavailable { .. })
        ),
        "{err}"
    );
    assert!(provider.links().await.is_empty());
}
