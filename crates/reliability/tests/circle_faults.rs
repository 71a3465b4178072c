//! Fault injection against `CircleWsClient`: the reference server behind a fault proxy,
//! over loopback. Each scenario checks: no hung call (every call returns within its
//! timeout with a typed error), no call replayed on the next connection, notifications
//! resume after the fault, re-authentication on every new connection, reconnect delays
//! that grow with jitter up to the cap, and a clean shutdown.

mod support;

use std::time::{Duration, Instant};

use client_ws::server::{ReferenceServer, ServerConfig};
use client_ws::{
    CircleWsClient, CircleWsClientBuilder, ClientWsError, ConnectionState, ReconnectPolicy,
};
use reliability::{Corruption, FaultProxy, binary_frame_header};
use serde_json::json;
use support::{StateLog, WAIT, assert_backoff, reconnect_delays, within};

const KEY: &str = "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63";

/// A reference server, a proxy in front of it, and a connected client.
struct Rig {
    server: ReferenceServer,
    proxy: FaultProxy,
    client: CircleWsClient,
}

fn builder(url: &str) -> CircleWsClientBuilder {
    CircleWsClientBuilder::new(url)
        .with_keypair(KEY)
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_millis(200)),
        )
        .with_request_timeout(Duration::from_secs(2))
        .with_connect_timeout(Duration::from_secs(1))
        .with_connect_wait(WAIT)
}

impl Rig {
    async fn start(configure: impl FnOnce(CircleWsClientBuilder) -> CircleWsClientBuilder) -> Rig {
        support::count_library_panics();
        let server = ReferenceServer::start(ServerConfig::new()).await.unwrap();
        let proxy = FaultProxy::start(server.local_addr()).await.unwrap();
        let client = configure(builder(&proxy.ws_url(&server.url())))
            .build()
            .unwrap();
        within("connect", client.connect()).await.unwrap();
        Rig {
            server,
            proxy,
            client,
        }
    }

    /// Waits until the server has seen `n` authentications in all and the client is
    /// connected again.
    async fn reauthenticated(&self, n: u64) {
        self.server
            .wait_for(WAIT, |s| s.authenticated >= n)
            .await
            .unwrap_or_else(|| panic!("authentication #{n}: {:?}", self.server.stats()));
        within("the client to be connected", async {
            let mut states = self.client.watch_connection_state();
            states
                .wait_for(ConnectionState::is_connected)
                .await
                .unwrap();
        })
        .await;
    }

    /// Shuts down and checks the client let go of its connection and nothing panicked.
    async fn shut_down_cleanly(self) {
        within("shutdown", self.client.shutdown()).await.unwrap();
        assert_eq!(self.client.connection_state(), ConnectionState::Closed);
        assert!(matches!(
            within("a call after shutdown", self.client.ping()).await,
            Err(ClientWsError::Closed)
        ));
        assert!(
            self.server.wait_for(WAIT, |s| s.live == 0).await.is_some(),
            "the server sees no connection left: {:?}",
            self.server.stats()
        );
        self.proxy.shutdown().await;
        self.server.shutdown().await;
        support::assert_no_library_panic();
    }
}

/// Reads notifications until `method` arrives; returns the methods seen before it.
async fn notifications_until(notes: &mut client_ws::Notifications, method: &str) -> Vec<String> {
    let mut before = Vec::new();
    within(&format!("the `{method}` notification"), async {
        loop {
            let note = notes.recv().await.expect("notifications continue");
            if note.method == method {
                return before;
            }
            before.push(note.method);
        }
    })
    .await
}

#[tokio::test]
async fn a_cut_fails_the_pending_call_at_once_and_never_replays_it() {
    let rig = Rig::start(|b| b).await;
    let mut notes = rig.client.notifications();
    let pending = tokio::spawn({
        let client = rig.client.clone();
        async move {
            client
                .call_with_timeout(
                    "play",
                    json!({"script": "notify started\nsleep 5000"}),
                    Duration::from_secs(10),
                )
                .await
        }
    });
    notifications_until(&mut notes, "started").await;
    let cut_at = Instant::now();
    assert_eq!(rig.proxy.cut_all(), 1);
    let outcome = within("the pending call", pending).await.unwrap();
    assert!(
        matches!(&outcome, Err(ClientWsError::ConnectionLost { method }) if method == "play"),
        "{outcome:?}"
    );
    assert!(
        cut_at.elapsed() < Duration::from_secs(2),
        "at once, not at the call's timeout"
    );
    rig.reauthenticated(2).await;
    assert_eq!(
        within("whoami", rig.client.play("whoami")).await.unwrap(),
        rig.client.public_key().unwrap(),
        "the new connection is authenticated"
    );
    // The same subscription keeps receiving on the new connection, and the lost call
    // was not run again (it would have announced itself first).
    within("a marker", rig.client.play("notify marker"))
        .await
        .unwrap();
    let before = notifications_until(&mut notes, "marker").await;
    assert!(!before.contains(&"started".to_string()), "{before:?}");
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn a_half_open_link_is_detected_by_keep_alive_and_calls_fail_in_time() {
    let rig =
        Rig::start(|b| b.with_heartbeat(Duration::from_millis(100), Duration::from_millis(700)))
            .await;
    let mut log = StateLog::start(rig.client.watch_connection_state());
    rig.proxy.set_stalled(true);
    let started = Instant::now();
    let call = within(
        "a call on the dead link",
        rig.client
            .call_with_timeout("ping", json!(null), Duration::from_millis(300)),
    )
    .await;
    assert!(
        matches!(&call, Err(ClientWsError::Timeout { method, .. }) if method == "ping"),
        "{call:?}"
    );
    log.wait("the dead link to be noticed", |log| {
        log.iter().any(|s| !s.is_connected())
    })
    .await;
    let noticed = started.elapsed();
    assert!(
        noticed < Duration::from_secs(3),
        "noticed after {noticed:?}"
    );
    // While the link stays dead, calls keep failing in time rather than hanging.
    let late = within(
        "a call while reconnecting",
        rig.client
            .call_with_timeout("ping", json!(null), Duration::from_millis(300)),
    )
    .await;
    assert!(
        matches!(
            late,
            Err(ClientWsError::NotConnected { .. } | ClientWsError::Timeout { .. })
        ),
        "{late:?}"
    );
    rig.proxy.set_stalled(false);
    rig.reauthenticated(2).await;
    within("ping", rig.client.ping()).await.unwrap();
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn refused_connections_are_retried_with_growing_jittered_delays_up_to_the_cap() {
    let initial = Duration::from_millis(40);
    let cap = Duration::from_millis(320);
    let jitter = 0.5;
    let rig = Rig::start(|b| {
        b.with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(initial)
                .with_max_delay(cap)
                .with_jitter(jitter)
                .with_stable_after(Duration::from_secs(60)),
        )
    })
    .await;
    let mut log = StateLog::start(rig.client.watch_connection_state());
    rig.proxy.refuse_for(Duration::from_millis(1500));
    rig.proxy.cut_all();
    let log = log
        .wait("the connection to come back", |log| {
            log.last() == Some(&ConnectionState::Connected)
        })
        .await;
    assert_backoff(&reconnect_delays(&log), initial, cap, jitter);
    assert!(rig.proxy.stats().refused >= 3);
    rig.reauthenticated(2).await;
    within("ping", rig.client.ping()).await.unwrap();
    rig.shut_down_cleanly().await;
}

/// Starts a reference server on `addr` again, retrying while the old listener lets go.
async fn restart_on(addr: std::net::SocketAddr) -> ReferenceServer {
    within("the restart", async {
        loop {
            match ReferenceServer::start(ServerConfig::new().with_addr(addr)).await {
                Ok(server) => return server,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_server_restart_is_survived_by_authenticating_with_the_new_server() {
    support::count_library_panics();
    let first = ReferenceServer::start(ServerConfig::new()).await.unwrap();
    let addr = first.local_addr();
    let client = builder(&first.url()).build().unwrap();
    within("connect", client.connect()).await.unwrap();
    let mut log = StateLog::start(client.watch_connection_state());
    first.shutdown().await;
    log.wait("the client to notice", |log| {
        log.iter().any(|s| !s.is_connected())
    })
    .await;
    // The restarted server knows nothing of the old connection or its nonces.
    let second = restart_on(addr).await;
    assert!(
        second
            .wait_for(WAIT, |s| s.authenticated == 1)
            .await
            .is_some(),
        "the client authenticated with the new server: {:?}",
        second.stats()
    );
    within("connected", async {
        client
            .watch_connection_state()
            .wait_for(ConnectionState::is_connected)
            .await
            .unwrap();
    })
    .await;
    assert_eq!(
        within("whoami", client.play("whoami")).await.unwrap(),
        client.public_key().unwrap()
    );
    within("shutdown", client.shutdown()).await.unwrap();
    assert!(second.wait_for(WAIT, |s| s.live == 0).await.is_some());
    support::assert_no_library_panic();
}

#[tokio::test]
async fn a_response_that_is_not_utf8_ends_the_connection_and_the_call_fails_at_once() {
    let rig = Rig::start(|b| b).await;
    rig.proxy
        .corrupt_next(Corruption::flip_bits(r#""result":"pong""#, 10, 0x80));
    let started = Instant::now();
    let outcome = within("the call", rig.client.ping()).await;
    assert!(
        matches!(&outcome, Err(ClientWsError::ConnectionLost { method }) if method == "ping"),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(rig.proxy.stats().corrupted, 1);
    rig.reauthenticated(2).await;
    within("ping", rig.client.ping()).await.unwrap();
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn a_garbled_response_is_dropped_and_its_call_times_out_with_a_typed_error() {
    let rig = Rig::start(|b| b).await;
    // The closing quote of "pong" becomes a control character: still UTF-8 text, no
    // longer JSON.
    rig.proxy
        .corrupt_next(Corruption::flip_bits(r#""pong""#, 5, 0x20));
    let outcome = within(
        "the call",
        rig.client
            .call_with_timeout("ping", json!(null), Duration::from_millis(500)),
    )
    .await;
    assert!(
        matches!(&outcome, Err(ClientWsError::Timeout { method, .. }) if method == "ping"),
        "{outcome:?}"
    );
    assert_eq!(rig.proxy.stats().corrupted, 1);
    within("ping", rig.client.ping()).await.unwrap();
    assert_eq!(rig.server.stats().accepted, 1, "the connection was kept");
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn a_response_cut_in_the_middle_fails_its_call_at_once_and_the_client_recovers() {
    let rig = Rig::start(|b| b).await;
    rig.proxy
        .corrupt_next(Corruption::truncate(r#""result""#, 3));
    let outcome = within("the call", rig.client.ping()).await;
    assert!(
        matches!(&outcome, Err(ClientWsError::ConnectionLost { .. })),
        "{outcome:?}"
    );
    rig.reauthenticated(2).await;
    within("ping", rig.client.ping()).await.unwrap();
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn an_oversized_frame_ends_the_connection_and_calls_recover() {
    let rig = Rig::start(|b| b.configure_transport(|ws| ws.with_max_message_size(64 * 1024))).await;
    let mut notes = rig.client.notifications();
    let pending = tokio::spawn({
        let client = rig.client.clone();
        async move { client.play("notify started\nsleep 3000").await }
    });
    notifications_until(&mut notes, "started").await;
    assert_eq!(rig.proxy.inject(&binary_frame_header(1 << 30)), 1);
    let outcome = within("the pending call", pending).await.unwrap();
    assert!(
        matches!(&outcome, Err(ClientWsError::ConnectionLost { .. })),
        "{outcome:?}"
    );
    rig.reauthenticated(2).await;
    within("ping", rig.client.ping()).await.unwrap();
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn an_answer_larger_than_the_limit_is_refused_and_small_calls_still_work() {
    let rig = Rig::start(|b| b.configure_transport(|ws| ws.with_max_message_size(1024))).await;
    // 20 × `whoami` is 140 bytes out and 20 public keys (2.6 KiB) back.
    let outcome = within("the call", rig.client.play(&"whoami\n".repeat(20))).await;
    assert!(
        matches!(&outcome, Err(ClientWsError::ConnectionLost { .. })),
        "{outcome:?}"
    );
    rig.reauthenticated(2).await;
    assert_eq!(
        within("whoami", rig.client.play("whoami")).await.unwrap(),
        rig.client.public_key().unwrap()
    );
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn a_request_larger_than_the_limit_fails_alone_with_a_size_error() {
    let rig = Rig::start(|b| b.configure_transport(|ws| ws.with_max_message_size(1024))).await;
    let outcome = within(
        "the call",
        rig.client.call("play", json!({"script": "x".repeat(4096)})),
    )
    .await;
    let message = format!("{outcome:?}");
    assert!(
        outcome.is_err() && message.contains("TooLarge"),
        "a size error: {message}"
    );
    assert_eq!(rig.server.stats().accepted, 1, "the connection was kept");
    rig.shut_down_cleanly().await;
}

#[tokio::test]
async fn a_burst_of_notifications_while_the_consumer_stalls_skips_the_oldest_only() {
    let rig = Rig::start(|b| b.with_notification_capacity(16)).await;
    let mut notes = rig.client.notifications();
    let script: String = (0..200).map(|n| format!("notify n{n}\n")).collect();
    // The consumer reads nothing while 200 notifications arrive.
    within("the burst", rig.client.play(&script)).await.unwrap();
    within("ping during the backlog", rig.client.ping())
        .await
        .unwrap();
    let first = within("a notification", notes.recv()).await.unwrap();
    let index: usize = first.method[1..].parse().unwrap();
    assert!(
        index >= 200 - 16,
        "the oldest were skipped, the newest kept: first seen {}",
        first.method
    );
    let rest = notifications_until(&mut notes, "n199").await;
    assert_eq!(rest.len(), 199 - index - 1, "nothing lost after the skip");
    assert_eq!(rig.server.stats().accepted, 1, "the connection was kept");
    rig.shut_down_cleanly().await;
}
