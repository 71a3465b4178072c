//! Endpoint memory over real loopback sockets: the endpoint that worked is remembered
//! across a restart of the client, and a dead remembered endpoint falls through to
//! discovery.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use atomic_ws::JsonFileStore;
use atomic_ws::discovery::{DiscoveryResponder, Prober};
use atomic_ws::endpoint::{EndpointResolver, LAST_ENDPOINT_KEY, ResolvedEndpoint, Source};
use atomic_ws::settings::{MemoryStore, SettingsExt};
use core_pre::{Client, ClientBuilder, ReconnectPolicy};

const WAIT: Duration = Duration::from_secs(10);

fn fast() -> ReconnectPolicy {
    ReconnectPolicy::fixed(Duration::from_millis(20))
}

async fn start_server() -> (server::Server, server::Inbox) {
    server::Server::builder()
        .with_address("127.0.0.1:0")
        .start()
        .await
        .unwrap()
}

/// A URL on which nothing listens.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("ws://{addr}/")
}

fn settings_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "atomic_ws_endpoint_{name}_{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

async fn connected_to(resolver: EndpointResolver) -> (Client, ResolvedEndpoint) {
    let mut watch = resolver.watch();
    let client = ClientBuilder::new(resolver)
        .with_reconnect_policy(fast())
        .spawn();
    client.wait_connected(WAIT).await.unwrap();
    let endpoint = tokio::time::timeout(WAIT, watch.wait_for(Option::is_some))
        .await
        .unwrap()
        .unwrap()
        .clone()
        .unwrap();
    (client, endpoint)
}

#[tokio::test]
async fn the_endpoint_that_worked_is_remembered_across_a_restart() {
    let (server, _inbox) = start_server().await;
    let path = settings_path("restart");

    // First run: configured.
    let store = Arc::new(JsonFileStore::open(&path).await.unwrap());
    let (client, endpoint) =
        connected_to(EndpointResolver::new(store.clone()).with_configured(server.url())).await;
    assert_eq!(
        endpoint,
        ResolvedEndpoint {
            url: server.url(),
            source: Source::Configured
        }
    );
    client.shutdown().await.unwrap();
    drop(store);

    // Second run, a new store on the same file, no configured URL at all.
    let store = Arc::new(JsonFileStore::open(&path).await.unwrap());
    assert_eq!(
        store.get::<String>(LAST_ENDPOINT_KEY).await.unwrap(),
        Some(server.url())
    );
    let resolver = EndpointResolver::new(store);
    assert_eq!(resolver.remembered().await.unwrap(), Some(server.url()));
    let (client, endpoint) = connected_to(resolver).await;
    assert_eq!(endpoint.source, Source::Remembered);
    assert_eq!(endpoint.url, server.url());
    client.shutdown().await.unwrap();
    server.shutdown(WAIT).await.unwrap();
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_dead_remembered_endpoint_falls_through_to_discovery() {
    let (server, _inbox) = start_server().await;
    let responder =
        DiscoveryResponder::attach(&server, "kiosk", "hall-1", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let store = Arc::new(MemoryStore::new());
    let dead = dead_url().await;
    store.set(LAST_ENDPOINT_KEY, &dead).await.unwrap();

    let prober = Prober::new("kiosk")
        .with_window(Duration::from_millis(300))
        .with_targets([responder.local_addr()]);
    let resolver = EndpointResolver::new(store.clone())
        .with_discovery(prober)
        .with_failures_per_source(2);
    let (client, endpoint) = connected_to(resolver).await;
    assert_eq!(endpoint.source, Source::Discovered);
    assert_eq!(endpoint.url, server.url());
    // The remembered endpoint was tried (twice) before discovery, and is now replaced.
    let failure = client.connect_failure();
    assert!(failure.is_none(), "reset once connected: {failure:?}");
    assert_eq!(
        store.get::<String>(LAST_ENDPOINT_KEY).await.unwrap(),
        Some(server.url())
    );
    client.shutdown().await.unwrap();
    server.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn the_chain_reports_each_endpoint_it_tried() {
    // Everything dead: remembered, configured, and discovery finds nothing.
    let store = Arc::new(MemoryStore::new());
    let remembered = dead_url().await;
    let configured = dead_url().await;
    store.set(LAST_ENDPOINT_KEY, &remembered).await.unwrap();
    let nobody = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let prober = Prober::new("kiosk")
        .with_window(Duration::from_millis(100))
        .with_targets([nobody.local_addr().unwrap()]);
    let resolver = EndpointResolver::new(store)
        .with_configured(configured.clone())
        .with_discovery(prober)
        .with_failures_per_source(1);
    let client = ClientBuilder::new(resolver)
        .with_reconnect_policy(fast().with_max_retries(3))
        .spawn();
    let error = client.wait_connected(WAIT).await.unwrap_err();
    let failure = client.connect_failure().expect("the failures are recorded");
    assert_eq!(failure.attempts, 4, "{error}");
    let tried: Vec<&str> = failure.endpoints.iter().map(|e| &**e).collect();
    let remembered_host = remembered.trim_start_matches("ws://").trim_end_matches('/');
    let configured_host = configured.trim_start_matches("ws://").trim_end_matches('/');
    assert!(
        tried[0].contains(remembered_host) && tried[0].contains("remembered"),
        "{tried:?}"
    );
    assert!(
        tried[1].contains(configured_host) && tried[1].contains("configured"),
        "{tried:?}"
    );
    // The third attempt was discovery, which found nothing: its error says so; the fourth
    // starts again from the top.
    assert!(error.to_string().contains("gave up"), "{error}");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_configured_url_equal_to_the_remembered_one_is_not_tried_twice() {
    let (server, _inbox) = start_server().await;
    let responder =
        DiscoveryResponder::attach(&server, "kiosk", "hall-1", "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let dead = dead_url().await;
    let store = Arc::new(MemoryStore::new());
    store.set(LAST_ENDPOINT_KEY, &dead).await.unwrap();
    let prober = Prober::new("kiosk")
        .with_window(Duration::from_millis(300))
        .with_targets([responder.local_addr()]);
    let resolver = EndpointResolver::new(store)
        .with_configured(dead.clone())
        .with_discovery(prober)
        .with_failures_per_source(1);
    // Watch the attempts: each failure is recorded before the next one starts.
    let mut watch = resolver.watch();
    let (client, runner) = ClientBuilder::new(resolver)
        .with_reconnect_policy(ReconnectPolicy::fixed(Duration::from_millis(200)).with_jitter(0.0))
        .build();
    let mut states = client.status_events();
    let _runner = runner.spawn();
    let mut failures = Vec::new();
    tokio::time::timeout(WAIT, async {
        while let Some(event) = futures::StreamExt::next(&mut states).await {
            match event {
                core_pre::StatusEvent::Reconnecting { last_error, .. } => {
                    failures.push(last_error.to_string())
                }
                core_pre::StatusEvent::Connected => break,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    // One failure (the remembered endpoint), then discovery connected.
    assert_eq!(failures.len(), 1, "{failures:?}");
    let endpoint = watch.borrow_and_update().clone().unwrap();
    assert_eq!(endpoint.source, Source::Discovered);
    assert_eq!(endpoint.url, server.url());
    client.shutdown().await.unwrap();
    server.shutdown(WAIT).await.unwrap();
}
