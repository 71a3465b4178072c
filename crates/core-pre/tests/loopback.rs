//! The runner, router and client over real loopback WebSockets.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use core_pre::{
    CallbackContext, ClientBuilder, ConnectionState, CoreError, DisconnectReason, HandlerContext,
    Message, PendingRequests, ReconnectPolicy, Statistics,
};
use support::{Recorder, WAIT, WsServer, within};

fn fast_policy() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200))
}

#[tokio::test]
async fn routes_each_message_to_every_matching_module() {
    let server = WsServer::start().await;
    let (client, runner, (rec0, rec1)) = ClientBuilder::new(server.connector())
        .build_with(|m| (m.add::<Recorder<0>>(), m.add::<Recorder<1>>()));
    let runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();

    for text in ["apple", "banana", "abba", "cherry"] {
        peer.send_text(text).await;
    }
    let a = rec0.clone();
    let b = rec1.clone();
    // "cherry" matches neither; "abba" matches both.
    assert_eq!(a.wait_for(2).await, vec!["apple", "abba"]);
    assert_eq!(b.wait_for(2).await, vec!["banana", "abba"]);

    let stats = client.route_stats();
    assert_eq!(stats.iter().map(|s| s.delivered).sum::<u64>(), 4);
    assert!(stats.iter().all(|s| s.dropped == 0));

    client.shutdown().await.unwrap();
    within("the runner to finish", runner).await.unwrap();
}

#[tokio::test]
async fn lightweight_handlers_see_every_message_and_can_reply_inline() {
    let server = WsServer::start().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let (client, runner, rec0) = ClientBuilder::new(server.connector())
        .with_inline_handler(move |msg: &Message, ctx: &HandlerContext<()>| {
            seen2
                .lock()
                .unwrap()
                .push(msg.kind().to_owned() + ":" + msg.as_text().unwrap_or(""));
            // A protocol-level ping answered inline, like Engine.IO's "2" -> "3".
            if msg.as_text() == Some("2") {
                ctx.outbound.try_send("3").unwrap();
            }
        })
        .build_with(|m| m.add::<Recorder<0>>());
    let _runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();

    peer.send_text("2").await;
    assert_eq!(peer.recv_text().await, "3");
    peer.send_text("apple").await;
    peer.ws
        .send(tokio_tungstenite::tungstenite::Message::binary(vec![1, 2]))
        .await
        .unwrap();
    peer.send_text("zzz").await;
    rec0.clone().wait_for(1).await;
    within("the handler to see all frames", async {
        while seen.lock().unwrap().len() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["text:2", "text:apple", "binary:", "text:zzz"]
    );
    client.shutdown().await.unwrap();
}

use futures::SinkExt;

#[tokio::test]
async fn reconnects_after_server_drop_and_runs_resubscribe_callbacks_once_per_reconnect() {
    let server = WsServer::start().await;
    let reconnect_calls = Arc::new(AtomicUsize::new(0));
    let connect_calls = Arc::new(AtomicUsize::new(0));
    let (r, c) = (reconnect_calls.clone(), connect_calls.clone());
    let stats = Statistics::new();
    let (client, runner, rec0) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(fast_policy())
        .with_middleware(stats.clone())
        .on_connect(move |_ctx: CallbackContext<()>| {
            c.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .on_reconnect(move |ctx: CallbackContext<()>| {
            let n = r.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                ctx.outbound.send(format!("resubscribe {n}")).await?;
                Ok(())
            }
        })
        .build_with(|m| m.add::<Recorder<0>>());
    let _runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    assert_eq!(
        reconnect_calls.load(Ordering::SeqCst),
        0,
        "not on first connect"
    );

    for round in 1..=3 {
        // Abrupt drop: the TCP connection goes away without a close handshake.
        drop(peer);
        peer = server.accept().await;
        assert_eq!(peer.recv_text().await, format!("resubscribe {round}"));
        client.wait_connected(WAIT).await.unwrap();
        peer.send_text(&format!("after {round}")).await;
        let seen = rec0.clone().wait_for(round).await;
        assert_eq!(seen.last().unwrap(), &format!("after {round}"));
        assert_eq!(reconnect_calls.load(Ordering::SeqCst), round);
    }
    assert_eq!(connect_calls.load(Ordering::SeqCst), 4);
    let snap = stats.snapshot();
    assert_eq!(snap.connects, 4);
    assert_eq!(snap.reconnects, 3);
    assert_eq!(snap.disconnects.values().sum::<u64>(), 3);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn modules_see_new_traffic_only_after_reconnect_callbacks_finish() {
    let server = WsServer::start().await;
    let release = Arc::new(tokio::sync::Notify::new());
    let release2 = release.clone();
    let handler_seen = Arc::new(AtomicUsize::new(0));
    let hs = handler_seen.clone();
    let (client, runner, rec0) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(fast_policy())
        .with_inline_handler(move |m: &Message, _: &HandlerContext<()>| {
            if m.as_text() == Some("a-early") {
                hs.fetch_add(1, Ordering::SeqCst);
            }
        })
        .on_reconnect(move |_ctx: CallbackContext<()>| {
            let release = release2.clone();
            async move {
                release.notified().await;
                Ok(())
            }
        })
        .build_with(|m| m.add::<Recorder<0>>());
    let _runner = runner.spawn();
    let peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    drop(peer);

    let mut peer = server.accept().await;
    peer.send_text("a-early").await;
    // The handler sees it at once, while the callback still runs...
    within("the handler", async {
        while handler_seen.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let recorder = rec0.clone();
    assert!(
        recorder.seen().await.unwrap().is_empty(),
        "held until callbacks finish"
    );
    assert!(!client.is_connected(), "not ready while callbacks run");
    // ...and the module gets it, in order, once the callback is done.
    release.notify_one();
    client.wait_connected(WAIT).await.unwrap();
    peer.send_text("a-late").await;
    assert_eq!(recorder.wait_for(2).await, vec!["a-early", "a-late"]);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn backoff_delays_grow_with_jitter_up_to_the_cap() {
    let server = WsServer::start().await;
    server.set_refusing(true);
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(10))
                .with_max_delay(Duration::from_millis(80))
                .with_jitter(0.5),
        )
        .build();
    let mut states = client.watch_connection_state();
    let _runner = runner.spawn();
    let mut delays = Vec::new();
    within("eight reconnect attempts", async {
        while delays.len() < 8 {
            states.changed().await.unwrap();
            if let ConnectionState::Reconnecting { attempt, delay, .. } =
                states.borrow_and_update().clone()
            {
                delays.push((attempt, delay));
            }
        }
    })
    .await;
    for (i, (attempt, delay)) in delays.iter().enumerate() {
        assert_eq!(*attempt as usize, i + 1, "attempts count up: {delays:?}");
        let nominal = (10u64 << i).min(80);
        let ms = delay.as_secs_f64() * 1000.0;
        assert!(
            ms <= nominal as f64 + 0.001 && ms >= nominal as f64 * 0.5 - 0.001,
            "attempt {attempt}: {ms}ms outside [{}, {nominal}]",
            nominal / 2
        );
    }
    assert!(delays[7].1 <= Duration::from_millis(80), "capped");
    assert!(
        delays[3..]
            .iter()
            .any(|(_, d)| *d < Duration::from_millis(79)),
        "jitter varies the capped delays: {delays:?}"
    );
    assert!(server.attempts.load(Ordering::SeqCst) >= 8);

    // Once the server accepts again, the client connects.
    server.set_refusing(false);
    let _peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn detects_a_silent_peer_by_read_timeout_and_reconnects() {
    let server = WsServer::start().await;
    let stats = Statistics::new();
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(fast_policy())
        .with_read_timeout(Some(Duration::from_millis(300)))
        .without_keep_alive()
        .with_middleware(stats.clone())
        .build();
    let _runner = runner.spawn();
    // The first peer stays open but never sends anything (a half-open connection).
    let _silent = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    let started = tokio::time::Instant::now();
    let _second = server.accept().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "not before the timeout: {took:?}"
    );
    client.wait_connected(WAIT).await.unwrap();
    assert_eq!(stats.snapshot().disconnects.get("read_timeout"), Some(&1));
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn keep_alive_pings_keep_a_quiet_but_live_peer_connected() {
    let server = WsServer::start().await;
    let stats = Statistics::new();
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_read_timeout(Some(Duration::from_millis(300)))
        .with_keep_alive(Duration::from_millis(50), Message::Ping(Default::default()))
        .with_middleware(stats.clone())
        .build();
    let _runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    // The server reads (so tungstenite answers pings with pongs) but sends no data.
    let reader = tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(Ok(_)) = peer.ws.next().await {}
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(client.is_connected());
    let snap = stats.snapshot();
    assert_eq!(snap.connects, 1, "never reconnected");
    assert!(snap.messages_in >= 5, "pongs arrived: {snap:?}");
    client.shutdown().await.unwrap();
    reader.abort();
}

#[tokio::test]
async fn disconnect_stays_disconnected_until_connect() {
    let server = WsServer::start().await;
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(fast_policy())
        .build();
    let _runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();

    client.disconnect().await.unwrap();
    assert_eq!(
        client.connection_state(),
        ConnectionState::Disconnected(DisconnectReason::Requested)
    );
    assert_eq!(peer.recv_close().await, Some(1000), "a clean close");
    assert!(
        server
            .try_accept(Duration::from_millis(300))
            .await
            .is_none(),
        "no reconnect after disconnect()"
    );
    assert!(matches!(
        client.send("x").await,
        Err(CoreError::NotConnected { .. })
    ));
    assert!(matches!(
        client.wait_connected(Duration::from_millis(50)).await,
        Err(CoreError::NotConnected { .. })
    ));

    let accept = server.accept();
    let (connected, _peer) = tokio::join!(client.connect(), accept);
    connected.unwrap();
    assert!(client.is_connected());
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn reconnect_forces_a_fresh_connection_while_connected() {
    let server = WsServer::start().await;
    let (client, runner) = ClientBuilder::new(server.connector()).build();
    let _runner = runner.spawn();
    let mut first = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    let accept = server.accept();
    let (reconnected, mut second) = tokio::join!(client.reconnect(), accept);
    reconnected.unwrap();
    assert_eq!(first.recv_close().await, Some(1000));
    client.send("on the new one").await.unwrap();
    assert_eq!(second.recv_text().await, "on the new one");
    // connect() while connected is a no-op that reports success.
    client.connect().await.unwrap();
    assert!(
        server
            .try_accept(Duration::from_millis(200))
            .await
            .is_none()
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn pending_requests_fail_at_once_when_the_connection_drops() {
    let server = WsServer::start().await;
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(fast_policy())
        .build();
    let _runner = runner.spawn();
    let peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    let pending: PendingRequests<u32, String> = PendingRequests::new(client.connection_watch(), 16);
    let waiter = pending.register(1).unwrap();
    let started = tokio::time::Instant::now();
    let wait = tokio::spawn(waiter.wait(Duration::from_secs(30)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(peer);
    let result = within("the waiter", wait).await.unwrap();
    assert!(
        matches!(result, Err(CoreError::ConnectionLost)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // A reply for the old connection's request finds nobody.
    assert!(!pending.resolve(&1, "late".into()));
    assert!(pending.is_empty());
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_joins_every_task_and_leaks_nothing() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let server = WsServer::start().await; // one accept-loop task of its own
    let with_server = metrics.num_alive_tasks();
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_module::<Recorder<0>>()
        .with_module::<Recorder<1>>()
        .build();
    let state = Arc::downgrade(client.app_state());
    let runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    assert!(
        metrics.num_alive_tasks() > with_server,
        "modules and writer are running"
    );

    client.shutdown().await.unwrap();
    within("the runner", runner).await.unwrap();
    assert_eq!(peer.recv_close().await, Some(1000));
    assert_eq!(client.connection_state(), ConnectionState::Closed);
    assert!(client.module_health().iter().all(|m| !m.running));
    // Every task the client spawned is gone (the runner was awaited; modules and writer
    // were joined by shutdown).
    within("tasks to wind down", async {
        while metrics.num_alive_tasks() > with_server {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(client);
    assert!(state.upgrade().is_none(), "no task keeps the state alive");
    let _ = baseline;
}

#[tokio::test]
async fn every_call_after_shutdown_returns_client_closed() {
    let server = WsServer::start().await;
    let (client, runner, rec0) =
        ClientBuilder::new(server.connector()).build_with(|m| m.add::<Recorder<0>>());
    let handle = rec0.clone();
    let pending: PendingRequests<u32, ()> = PendingRequests::new(client.connection_watch(), 4);
    let _runner = runner.spawn();
    let _peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    client.shutdown().await.unwrap();

    let closed = |r: Result<(), CoreError>| matches!(r, Err(CoreError::ClientClosed));
    assert!(closed(client.send("x").await));
    assert!(closed(client.try_send("x")));
    assert!(closed(client.connect().await));
    assert!(closed(client.disconnect().await));
    assert!(closed(client.reconnect().await));
    assert!(closed(client.shutdown().await));
    assert!(closed(
        client.wait_connected(Duration::from_millis(10)).await
    ));
    assert!(closed(handle.seen().await.map(|_| ())));
    assert!(closed(pending.register(1).map(|_| ())));
    assert_eq!(
        CoreError::ClientClosed.to_string(),
        "the client is shut down; build a new client to connect again"
    );
}

#[tokio::test]
async fn dropping_every_client_shuts_the_runner_down() {
    let server = WsServer::start().await;
    let (client, runner, rec0) =
        ClientBuilder::new(server.connector()).build_with(|m| m.add::<Recorder<0>>());
    let handle = rec0.clone();
    let runner = runner.spawn();
    let mut peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    drop(client);
    within("the runner to stop", runner).await.unwrap();
    assert_eq!(peer.recv_close().await, Some(1000));
    assert!(matches!(handle.seen().await, Err(CoreError::ClientClosed)));
}

#[tokio::test]
async fn sends_while_disconnected_fail_fast_and_are_never_replayed() {
    let server = WsServer::start().await;
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(fast_policy())
        .build();
    let _runner = runner.spawn();
    let peer = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    server.set_refusing(true);
    drop(peer);
    within("the client to notice the drop", async {
        while client.is_connected() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let result = client.send("stale order").await;
    assert!(
        matches!(result, Err(CoreError::NotConnected { .. })),
        "{result:?}"
    );
    server.set_refusing(false);
    let mut second = server.accept().await;
    client.wait_connected(WAIT).await.unwrap();
    client.send("fresh").await.unwrap();
    assert_eq!(
        second.recv_text().await,
        "fresh",
        "the stale message was never sent"
    );
    client.shutdown().await.unwrap();
}
