//! Status events over real loopback WebSockets: connect, server kill, backoff, give-up,
//! with several observers, one of them taking the stream late.

mod support;

use std::time::Duration;

use core_pre::{ClientBuilder, DisconnectReason, ReconnectPolicy, StatusEvent, StatusEvents};
use futures::StreamExt;
use support::{WsServer, within};

/// Reads events until one has the label `until` (included).
async fn read_until(events: &mut StatusEvents, until: &str) -> Vec<StatusEvent> {
    within(&format!("the status event {until}"), async {
        let mut seen = Vec::new();
        while let Some(event) = events.next().await {
            let done = event.label() == until;
            seen.push(event);
            if done {
                return seen;
            }
        }
        panic!("the stream ended before {until}: {seen:?}");
    })
    .await
}

fn labels(events: &[StatusEvent]) -> Vec<&'static str> {
    events.iter().map(StatusEvent::label).collect()
}

#[tokio::test]
async fn every_observer_sees_connect_loss_backoff_give_up_and_close() {
    let server = WsServer::start().await;
    // atomic_websocket's `retry_seconds` (here 50 ms) and `max_retry_count: 2`, no jitter
    // so the delays can be checked.
    let policy = ReconnectPolicy::fixed(Duration::from_millis(50))
        .with_jitter(0.0)
        .with_max_retries(2);
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(policy)
        .build();
    let mut early = client.status_events();
    let mut early_too = client.status_events();
    let _runner = runner.spawn();

    let peer = server.accept().await;
    client.wait_connected(support::WAIT).await.unwrap();
    let start = read_until(&mut early, "connected").await;
    assert_eq!(
        start,
        vec![
            StatusEvent::Disconnected(DisconnectReason::NotStarted),
            StatusEvent::Connecting,
            StatusEvent::Connected
        ]
    );

    // Taken late: it starts from the state of the moment.
    let mut late = client.status_events();

    // The server dies and stays dead (every new connection is dropped at once).
    server.set_refusing(true);
    drop(peer);

    let lost = read_until(&mut early, "gave_up").await;
    assert_eq!(
        labels(&lost),
        vec!["reconnecting", "reconnecting", "gave_up"],
        "{lost:?}"
    );
    for (event, expected_attempt) in lost.iter().zip(1..) {
        if let StatusEvent::Reconnecting {
            attempt,
            delay,
            last_error,
        } = event
        {
            assert_eq!(*attempt, expected_attempt);
            assert_eq!(*delay, Duration::from_millis(50));
            assert!(!last_error.is_empty());
        }
    }
    assert!(
        lost[0].to_string().contains("connection was lost"),
        "{}",
        lost[0]
    );
    assert!(matches!(lost[2], StatusEvent::GaveUp { attempts: 3, .. }));

    let late_seen = read_until(&mut late, "gave_up").await;
    assert_eq!(
        labels(&late_seen),
        vec!["connected", "reconnecting", "reconnecting", "gave_up"]
    );
    // The second early observer, read only now, saw the same transitions.
    let all = read_until(&mut early_too, "gave_up").await;
    assert_eq!(all[..3], start[..]);
    assert_eq!(all[3..], lost[..]);

    // One taken after giving up starts with it.
    let mut after = client.status_events();
    assert!(matches!(
        within("the first event", after.next()).await,
        Some(StatusEvent::GaveUp { attempts: 3, .. })
    ));

    // The server comes back; connect() starts afresh; shutdown closes every stream.
    server.set_refusing(false);
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    let _peer = server.accept().await;
    within("connect", connecting).await.unwrap().unwrap();
    client.shutdown().await.unwrap();
    for events in [&mut early, &mut late, &mut after] {
        let rest: Vec<StatusEvent> = within("the stream to end", events.collect()).await;
        assert_eq!(labels(&rest), vec!["connecting", "connected", "closed"]);
    }
}

#[tokio::test]
async fn a_client_without_observers_behaves_the_same() {
    let server = WsServer::start().await;
    let client = ClientBuilder::new(server.connector()).spawn();
    let _peer = server.accept().await;
    client.wait_connected(support::WAIT).await.unwrap();
    client.send("hello").await.unwrap();
    // Observing can start at any time, even after many changes nobody saw.
    let mut events = client.status_events();
    assert_eq!(
        within("the first event", events.next()).await,
        Some(StatusEvent::Connected)
    );
    client.shutdown().await.unwrap();
    assert_eq!(
        within("closed", events.next()).await,
        Some(StatusEvent::Closed)
    );
    assert_eq!(within("the end", events.next()).await, None);
}

#[tokio::test]
async fn a_slow_observer_reads_lagged_while_a_steady_one_sees_every_step() {
    let server = WsServer::start().await;
    server.set_refusing(true);
    let policy = ReconnectPolicy::fixed(Duration::from_millis(1))
        .with_jitter(0.0)
        .with_max_retries(100);
    let (client, runner) = ClientBuilder::new(server.connector())
        .with_reconnect_policy(policy)
        .build();
    let mut slow = client.status_events();
    let mut steady = client.status_events();
    let reading = tokio::spawn(async move { read_until(&mut steady, "gave_up").await });
    let _runner = runner.spawn();

    let all = within("the steady observer", reading).await.unwrap();
    let attempts: Vec<u32> = all
        .iter()
        .filter_map(|event| match event {
            StatusEvent::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, (1..=100).collect::<Vec<u32>>());
    assert!(!all.iter().any(|e| matches!(e, StatusEvent::Lagged(_))));
    assert!(matches!(
        all.last(),
        Some(StatusEvent::GaveUp { attempts: 101, .. })
    ));

    // The one that read nothing meanwhile did not hold anyone up: it skips, and is told.
    let seen = read_until(&mut slow, "gave_up").await;
    assert_eq!(
        seen[0],
        StatusEvent::Disconnected(DisconnectReason::NotStarted)
    );
    let StatusEvent::Lagged(missed) = seen[1] else {
        panic!("expected Lagged second: {seen:?}");
    };
    // 102 transitions (connecting, 100 × reconnecting, gave up; the first item came from
    // the watch); the channel keeps the last 64.
    assert_eq!(missed, 102 - 64);
    assert_eq!(seen.len(), 2 + 64);
    assert_eq!(seen.last(), all.last());
    client.shutdown().await.unwrap();
}
