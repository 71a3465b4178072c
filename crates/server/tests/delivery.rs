//! Sending and receiving over real loopback sockets: broadcast isolation from a stalled
//! peer, rooms, the overflow policies, inbound backpressure, unread events.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use server::{DisconnectReason, OverflowPolicy, Server, ServerError, SessionId};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use support::*;

/// Sends 64 KiB messages to `id` until its queue stays non-empty: the peer's socket
/// buffers are full and its session's writer is blocked.
async fn stall(server: &Server, id: SessionId) {
    let chunk = Bytes::from(vec![0u8; 64 << 10]);
    within(async {
        loop {
            for _ in 0..64 {
                let _ = server.send_to(id, chunk.clone());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let stats = server
                .session_stats(id)
                .expect("the stalled session is alive");
            if stats.queued > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if server.session_stats(id).expect("alive").queued > 0 {
                    return;
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_does_not_delay_a_broadcast_to_1000_others() {
    const READERS: usize = 1000;
    let (server, mut inbox) = Server::builder()
        // Long enough that the stalled session stays stalled for the whole test.
        .with_send_deadline(Duration::from_secs(60))
        .with_queue_capacity(4096)
        .start()
        .await
        .unwrap();

    // The stalled peer: upgraded, then never read.
    let _stalled = client(&server, "/").await;
    let stalled_id = connected(&mut inbox.events).await;

    // 1,000 readers, each reporting when it sees "tick".
    let (seen_tx, mut seen_rx) = mpsc::channel::<Instant>(READERS);
    let url = server.url();
    let mut joins = Vec::new();
    for _ in 0..READERS {
        let url = url.clone();
        let seen_tx = seen_tx.clone();
        joins.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connect");
            while let Some(Ok(msg)) = ws.next().await {
                if msg.is_text() && msg.to_text().unwrap_or("") == "tick" {
                    let _ = seen_tx.send(Instant::now()).await;
                }
            }
        }));
    }
    drop(seen_tx);
    eventually(|| server.metrics().active == READERS + 1).await;

    stall(&server, stalled_id).await;
    let queued_before = server.session_stats(stalled_id).unwrap().queued;

    let started = Instant::now();
    let delivery = server.broadcast("tick").unwrap();
    let call = started.elapsed();
    let mut last = started;
    for _ in 0..READERS {
        last = within(seen_rx.recv())
            .await
            .expect("every reader sees the tick");
    }
    let spread = last - started;
    println!("broadcast call {call:?}; all {READERS} readers had it after {spread:?}");

    assert_eq!(
        delivery.queued,
        READERS + 1,
        "queued for everyone, the stalled one too"
    );
    assert!(
        call < Duration::from_millis(500),
        "the broadcast call waited: {call:?}"
    );
    assert!(
        spread < Duration::from_secs(5),
        "the readers waited: {spread:?}"
    );
    // The stalled peer really was stalled the whole time, and is still connected.
    assert!(queued_before > 0);
    assert!(server.session_stats(stalled_id).unwrap().queued > 0);

    server.shutdown(SHUTDOWN).await.unwrap();
    for join in joins {
        join.abort();
    }
}

#[tokio::test]
async fn rooms_reach_their_members_except_whom_the_sender_leaves_out() {
    let (server, mut inbox) = Server::builder().start().await.unwrap();
    let mut a = client(&server, "/").await;
    let a_id = connected(&mut inbox.events).await;
    let mut b = client(&server, "/").await;
    let b_id = connected(&mut inbox.events).await;
    let mut c = client(&server, "/").await;
    let c_id = connected(&mut inbox.events).await;

    assert!(server.join(a_id, "red").unwrap());
    assert!(server.join(b_id, "red").unwrap());
    assert!(!server.join(b_id, "red").unwrap(), "already a member");
    assert_eq!(server.members("red"), vec![a_id, b_id]);
    assert_eq!(server.rooms_of(a_id), vec!["red".to_string()]);

    let delivery = server.to("red").send("to red").unwrap();
    assert_eq!(delivery.queued, 2);
    server.to("red").except(a_id).send("red but a").unwrap();
    server.broadcast("everyone").unwrap();

    assert_eq!(next_data(&mut a).await, WsMessage::text("to red"));
    assert_eq!(next_data(&mut a).await, WsMessage::text("everyone"));
    assert_eq!(next_data(&mut b).await, WsMessage::text("to red"));
    assert_eq!(next_data(&mut b).await, WsMessage::text("red but a"));
    assert_eq!(next_data(&mut b).await, WsMessage::text("everyone"));
    // c is in no room: the first thing it sees is the broadcast.
    assert_eq!(next_data(&mut c).await, WsMessage::text("everyone"));

    assert!(server.leave(a_id, "red"));
    assert_eq!(server.to("red").send("after a left").unwrap().queued, 1);
    assert_eq!(next_data(&mut b).await, WsMessage::text("after a left"));

    // A session that leaves the server leaves its rooms; an empty room is gone.
    b.close(None).await.unwrap();
    disconnected(&mut inbox.events).await;
    assert!(server.members("red").is_empty());
    assert!(server.rooms().is_empty());
    assert!(matches!(
        server.join(b_id, "red"),
        Err(ServerError::UnknownSession(_))
    ));
    assert!(server.send_to(c_id, "c").is_ok());
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_session_whose_writes_miss_the_send_deadline_is_closed_with_1013() {
    let (server, mut inbox) = Server::builder()
        .with_send_deadline(Duration::from_millis(300))
        .with_queue_capacity(8)
        .start()
        .await
        .unwrap();
    let _stalled = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;
    let chunk = Bytes::from(vec![0u8; 64 << 10]);
    let ended = within(async {
        loop {
            let _ = server.send_to(id, chunk.clone());
            if let Some(server::ServerEvent::Disconnected(ended)) = inbox.events.try_recv() {
                return ended;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(ended.reason, DisconnectReason::SlowConsumer);
    assert_eq!(ended.code, Some(1013));
    // The session's writer was stuck on the socket: its write missed the deadline.
    assert_eq!(server.metrics().send_timeouts, 1);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn the_reject_policy_refuses_into_a_full_queue_and_keeps_the_session() {
    let (server, mut inbox) = Server::builder()
        .with_overflow_policy(OverflowPolicy::Reject)
        .with_send_deadline(Duration::from_secs(60))
        .with_queue_capacity(4)
        .start()
        .await
        .unwrap();
    let _stalled = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;
    stall(&server, id).await;
    let refused = (0..10)
        .map(|_| server.send_to(id, Bytes::from_static(b"x")))
        .filter(|r| matches!(r, Err(ServerError::QueueFull { capacity: 4, .. })))
        .count();
    assert_eq!(refused, 10, "the queue stays full");
    assert!(server.session_stats(id).unwrap().dropped >= 10);
    assert_eq!(server.metrics().active, 1, "the session stays");
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn the_drop_oldest_policy_keeps_the_newest_and_counts_what_it_dropped() {
    let (server, mut inbox) = Server::builder()
        .with_overflow_policy(OverflowPolicy::DropOldest)
        .with_send_deadline(Duration::from_secs(60))
        .with_queue_capacity(4)
        .start()
        .await
        .unwrap();
    let _stalled = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;
    stall(&server, id).await;
    let before = server.session_stats(id).unwrap().dropped;
    let delivery = server.broadcast("newest").unwrap();
    assert_eq!((delivery.queued, delivery.dropped), (1, 1));
    assert_eq!(server.session_stats(id).unwrap().dropped, before + 1);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn an_unread_message_stream_holds_back_reading_but_not_sending_and_loses_nothing() {
    let (server, mut inbox) = Server::builder()
        .with_inbound_capacity(1)
        .with_ping_interval(Duration::from_millis(100))
        .with_idle_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let mut peer = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;
    for n in 0..20 {
        peer.send(WsMessage::text(format!("m{n}"))).await.unwrap();
    }
    // Nobody reads the messages for several idle windows; the session is not idle-closed
    // and still gets what the server sends.
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.send_to(id, "out").unwrap();
    assert_eq!(next_data(&mut peer).await, WsMessage::text("out"));
    assert_eq!(server.metrics().active, 1);
    for n in 0..20 {
        let (from, msg) = within(inbox.messages.recv()).await.unwrap();
        assert_eq!(from, id);
        assert_eq!(msg.as_text(), Some(format!("m{n}").as_str()));
    }
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn unread_events_are_dropped_and_counted_without_stalling_anything() {
    let (server, inbox) = Server::builder()
        .with_event_capacity(2)
        .start()
        .await
        .unwrap();
    let mut peers = Vec::new();
    for _ in 0..10 {
        peers.push(client(&server, "/").await);
    }
    eventually(|| server.metrics().active == 10).await;
    assert_eq!(server.broadcast("all").unwrap().queued, 10);
    for peer in &mut peers {
        assert_eq!(next_data(peer).await, WsMessage::text("all"));
    }
    assert_eq!(server.metrics().events_dropped, 8);
    assert_eq!(server.status().borrow().active, 10);
    drop(inbox);
    server.shutdown(SHUTDOWN).await.unwrap();
}
