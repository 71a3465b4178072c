//! The hub over real loopback sockets, with raw WebSocket clients speaking the `json`
//! envelope: hello, routing with wildcards and queue groups, request/reply, `_SESSION.<id>`,
//! every refusal of the sheet, clean-up, and slow consumers.

mod hub_support;

use std::collections::HashMap;
use std::time::Duration;

use hub_support::{Ending, Peer, WAIT, eventually};
use messaging::ErrorCode;
use messaging::hub::{Hub, SESSION_SID};
use messaging::json::{self, HubFrame};

async fn hub() -> Hub {
    Hub::builder().start().await.expect("hub starts")
}

#[tokio::test]
async fn hello_comes_first_with_a_session_id_and_max_payload() {
    let hub = Hub::builder().with_max_payload(4096).start().await.unwrap();
    let a = Peer::connect(&hub.url()).await;
    let b = Peer::connect(&hub.url()).await;
    assert_eq!(a.max_payload, 4096);
    assert_ne!(a.session, b.session);
    assert!(a.session.starts_with(hub.id()), "{}", a.session);
    messaging::Subject::session(&a.session).expect("a session id makes a valid subject");
    assert_eq!(hub.metrics().sessions, 2);
}

#[tokio::test]
async fn wildcards_route_to_every_matching_subscription_with_its_sid() {
    let hub = hub().await;
    let mut sub = Peer::connect(&hub.url()).await;
    sub.sub("star", "orders.*.created", None).await;
    sub.sub("tail", "orders.>", None).await;
    sub.sub("exact", "orders.eu.created", None).await;
    sub.sub_synced("other", "invoices.>", None).await;
    let mut publisher = Peer::connect(&hub.url()).await;

    publisher.publish("orders.eu.created", b"one", None).await;
    let mut got: Vec<String> = Vec::new();
    for _ in 0..3 {
        let (sid, subject, body, reply) = sub.next_msg().await;
        assert_eq!(
            (subject.as_str(), &body[..], reply),
            ("orders.eu.created", &b"one"[..], None)
        );
        got.push(sid);
    }
    got.sort();
    assert_eq!(got, ["exact", "star", "tail"]);

    // `>` takes one or more tokens; `*` exactly one.
    publisher
        .publish("orders.eu.created.late", b"two", None)
        .await;
    let (sid, ..) = sub.next_msg().await;
    assert_eq!(sid, "tail");
    publisher.publish("orders", b"three", None).await;
    sub.expect_nothing().await;
    assert_eq!(publisher.sync().await, vec![]);
    assert_eq!(hub.metrics().published, 3);
    assert_eq!(hub.metrics().delivered, 4);
}

#[tokio::test]
async fn each_queue_group_gets_each_message_once_and_plain_subscribers_get_all() {
    let hub = hub().await;
    let url = hub.url();
    let mut workers = Vec::new();
    for (i, group) in ["g", "g", "g", "h", "h"].into_iter().enumerate() {
        let mut peer = Peer::connect(&url).await;
        // Group members may use different patterns: the group is one whatever the pattern.
        let pattern = if i % 2 == 0 { "jobs.*" } else { "jobs.>" };
        peer.sub_synced("w", pattern, Some(group)).await;
        workers.push((group, peer));
    }
    let mut plain = Peer::connect(&url).await;
    plain.sub_synced("all", "jobs.>", None).await;
    let mut publisher = Peer::connect(&url).await;
    const N: usize = 300;
    for n in 0..N {
        publisher
            .publish("jobs.build", n.to_string().as_bytes(), None)
            .await;
    }
    assert_eq!(publisher.sync().await, vec![]);

    for n in 0..N {
        let (_, _, body, _) = plain.next_msg().await;
        assert_eq!(&body[..], n.to_string().as_bytes());
    }
    let mut per_group: HashMap<&str, Vec<usize>> = HashMap::new();
    for (group, peer) in &mut workers {
        let frames = peer.sync().await;
        assert!(!frames.is_empty(), "a member of {group} got nothing of {N}");
        for frame in frames {
            let HubFrame::Msg { body, .. } = frame else {
                panic!("{frame:?}")
            };
            per_group
                .entry(group)
                .or_default()
                .push(std::str::from_utf8(&body).unwrap().parse().unwrap());
        }
    }
    for group in ["g", "h"] {
        let mut got = per_group.remove(group).unwrap();
        got.sort_unstable();
        assert_eq!(
            got,
            (0..N).collect::<Vec<_>>(),
            "group {group}: each message exactly once"
        );
    }
}

#[tokio::test]
async fn a_request_is_answered_by_another_session() {
    let hub = hub().await;
    let mut responder = Peer::connect(&hub.url()).await;
    responder.sub_synced("svc", "time.now", None).await;
    let mut requester = Peer::connect(&hub.url()).await;
    let inbox = messaging::Subject::new_inbox();
    requester.sub_synced("inbox", inbox.as_str(), None).await;

    requester
        .publish("time.now", b"?", Some(inbox.as_str()))
        .await;
    let (sid, subject, body, reply_to) = responder.next_msg().await;
    assert_eq!(
        (sid.as_str(), subject.as_str(), &body[..]),
        ("svc", "time.now", &b"?"[..])
    );
    let reply_to = reply_to.expect("the request carries its reply subject");
    assert_eq!(reply_to, inbox.as_str());
    responder.publish(&reply_to, b"noon", None).await;
    let (sid, subject, body, _) = requester.next_msg().await;
    assert_eq!(
        (sid.as_str(), subject.as_str(), &body[..]),
        ("inbox", inbox.as_str(), &b"noon"[..])
    );
}

#[tokio::test]
async fn a_request_nobody_subscribes_to_fails_at_once_with_no_responders() {
    let hub = hub().await;
    let mut requester = Peer::connect(&hub.url()).await;
    let started = std::time::Instant::now();
    requester
        .publish("nobody.home", b"?", Some("_INBOX.r1"))
        .await;
    let (message, subject) = requester.expect_err(ErrorCode::NoResponders).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(subject.as_deref(), Some("nobody.home"));
    assert!(message.contains("no responders"), "{message}");
    // A plain publish to nobody is not an error.
    requester.publish("nobody.home", b"fyi", None).await;
    requester.expect_nothing().await;
    assert_eq!(hub.metrics().refused(ErrorCode::NoResponders), 1);
}

#[tokio::test]
async fn every_session_is_reachable_at_its_session_subject() {
    let hub = hub().await;
    let mut target = Peer::connect(&hub.url()).await;
    let mut sender = Peer::connect(&hub.url()).await;
    let subject = format!("_SESSION.{}", target.session);
    sender.publish(&subject, b"psst", None).await;
    let (sid, got_subject, body, _) = target.next_msg().await;
    assert_eq!(
        (sid.as_str(), got_subject, &body[..]),
        (SESSION_SID, subject, &b"psst"[..])
    );
    // The sender has a session subject of its own, not this one.
    sender.expect_nothing().await;
    // And a request to a session has a responder.
    sender
        .publish(
            &format!("_SESSION.{}", target.session),
            b"?",
            Some("_INBOX.x"),
        )
        .await;
    let (.., reply_to) = target.next_msg().await;
    assert_eq!(reply_to.as_deref(), Some("_INBOX.x"));
}

#[tokio::test]
async fn too_large_is_refused_before_and_after_decoding_and_the_connection_stays() {
    const MAX: usize = 1000;
    let hub = Hub::builder().with_max_payload(MAX).start().await.unwrap();
    let mut peer = Peer::connect(&hub.url()).await;
    peer.sub_synced("s", "big", None).await;

    // Longer than any frame a MAX-byte body needs: refused on its length alone, even
    // though it is not even JSON.
    let limit = json::max_frame_len(MAX);
    peer.send_text("x".repeat(limit + 1)).await;
    let (message, _) = peer.expect_err(ErrorCode::TooLarge).await;
    assert!(message.contains(&limit.to_string()), "{message}");

    // Short enough to parse, but the decoded body is one byte over.
    peer.publish("big", &vec![7u8; MAX + 1], None).await;
    let (message, subject) = peer.expect_err(ErrorCode::TooLarge).await;
    assert_eq!(subject.as_deref(), Some("big"));
    assert!(message.contains("1001"), "{message}");

    // Still connected, and a body of exactly MAX goes through.
    peer.publish("big", &vec![7u8; MAX], None).await;
    let (_, _, body, _) = peer.next_msg().await;
    assert_eq!(body.len(), MAX);
    assert_eq!(hub.metrics().refused(ErrorCode::TooLarge), 2);
    // Neither counts as a malformed frame.
    assert_eq!(hub.metrics().refused(ErrorCode::BadFrame), 0);
}

#[tokio::test]
async fn a_malformed_frame_says_why_and_three_in_a_second_close_with_1008() {
    let hub = hub().await;
    let mut peer = Peer::connect(&hub.url()).await;
    peer.send_text("not json").await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("not a JSON envelope"), "{message}");
    peer.send_text(r#"{"op":"sub","subject":"a"}"#).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("sid"), "{message}");
    // A good frame ends the streak.
    assert_eq!(peer.sync().await, vec![]);
    peer.send_text(r#"{"op":"dance"}"#).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("dance"), "{message}");
    peer.send_text(r#"{"subject":"a","body":"!!"}"#).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("base64"), "{message}");
    peer.send_text("[]").await;
    peer.expect_err(ErrorCode::BadFrame).await;
    assert_eq!(peer.ending(WAIT).await, Ending::Closed(Some(1008)));
    assert_eq!(hub.metrics().bad_frame_closes, 1);
    assert_eq!(hub.metrics().refused(ErrorCode::BadFrame), 5);

    // Others are unaffected.
    let mut other = Peer::connect(&hub.url()).await;
    assert_eq!(other.sync().await, vec![]);
}

#[tokio::test]
async fn binary_frames_and_bad_sids_are_malformed_frames() {
    let hub = hub().await;
    let mut peer = Peer::connect(&hub.url()).await;
    peer.send_binary(br#"{"op":"ping"}"#).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("text frames"), "{message}");
    peer.sub_synced("1", "a", None).await;
    peer.sub("1", "b", None).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("already in use"), "{message}");
    peer.sub_synced("2", "c", None).await;
    peer.sub(SESSION_SID, "d", None).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("_SESSION"), "{message}");
    peer.sub_synced("3", "e", None).await;
    peer.sub(&"s".repeat(129), "f", None).await;
    let (message, _) = peer.expect_err(ErrorCode::BadFrame).await;
    assert!(message.contains("128"), "{message}");
    // The first subscription under sid 1 is the one that stands.
    peer.publish("a", b"x", None).await;
    assert_eq!(peer.next_msg().await.0, "1");
    peer.publish("b", b"x", None).await;
    peer.expect_nothing().await;
    // The implicit subscription cannot be dropped.
    peer.send(messaging::json::ClientFrame::Unsub {
        sid: SESSION_SID.into(),
    })
    .await;
    let own = format!("_SESSION.{}", peer.session);
    peer.publish(&own, b"me", None).await;
    assert_eq!(peer.next_msg().await.0, SESSION_SID);
    assert_eq!(hub.metrics().refused(ErrorCode::BadFrame), 4);
    assert_eq!(hub.metrics().bad_frame_closes, 0);

    // Sid problems are malformed frames too: three in a row close the session.
    for _ in 0..3 {
        peer.sub("1", "again", None).await;
    }
    for _ in 0..3 {
        peer.expect_err(ErrorCode::BadFrame).await;
    }
    assert_eq!(peer.ending(WAIT).await, Ending::Closed(Some(1008)));
}

#[tokio::test]
async fn invalid_subjects_patterns_and_queue_names_are_refused_with_the_subject() {
    let hub = hub().await;
    let mut peer = Peer::connect(&hub.url()).await;
    peer.publish("a.*", b"", None).await;
    let (message, subject) = peer.expect_err(ErrorCode::SubjectInvalid).await;
    assert_eq!(subject.as_deref(), Some("a.*"));
    assert!(message.contains("concrete"), "{message}");
    peer.publish("a..b", b"", None).await;
    peer.expect_err(ErrorCode::SubjectInvalid).await;
    peer.publish("a.b", b"", Some("bad reply")).await;
    let (_, subject) = peer.expect_err(ErrorCode::SubjectInvalid).await;
    assert_eq!(subject.as_deref(), Some("bad reply"));
    peer.sub("1", "a.>.c", None).await;
    let (message, subject) = peer.expect_err(ErrorCode::SubjectInvalid).await;
    assert_eq!(subject.as_deref(), Some("a.>.c"));
    assert!(message.contains("last token"), "{message}");
    peer.sub("2", "a.b", Some("two words")).await;
    peer.expect_err(ErrorCode::SubjectInvalid).await;
    // Refusals are not malformed frames: the session is still open.
    assert_eq!(peer.sync().await, vec![]);
    assert_eq!(hub.metrics().refused(ErrorCode::SubjectInvalid), 5);
    assert_eq!(hub.metrics().subscriptions, 1, "only the implicit one");
}

#[tokio::test]
async fn subscriptions_beyond_the_cap_are_refused_with_quota_exceeded() {
    let hub = Hub::builder()
        .with_max_subscriptions_per_session(3)
        .start()
        .await
        .unwrap();
    let mut peer = Peer::connect(&hub.url()).await;
    for sid in ["1", "2", "3"] {
        peer.sub(sid, "a", None).await;
    }
    peer.sub("4", "b", None).await;
    let (message, subject) = peer.expect_err(ErrorCode::QuotaExceeded).await;
    assert_eq!(subject.as_deref(), Some("b"));
    assert!(message.contains('3'), "{message}");
    // Unsubscribing makes room.
    peer.send(messaging::json::ClientFrame::Unsub { sid: "1".into() })
        .await;
    peer.sub_synced("4", "b", None).await;
    peer.publish("b", b"x", None).await;
    let (sid, ..) = peer.next_msg().await;
    assert_eq!(sid, "4");
}

#[tokio::test]
async fn unsubscribing_stops_delivery() {
    let hub = hub().await;
    let mut peer = Peer::connect(&hub.url()).await;
    peer.sub_synced("1", "news", None).await;
    peer.publish("news", b"a", None).await;
    assert_eq!(peer.next_msg().await.2, &b"a"[..]);
    peer.send(messaging::json::ClientFrame::Unsub { sid: "1".into() })
        .await;
    peer.publish("news", b"b", None).await;
    peer.expect_nothing().await;
    assert_eq!(hub.metrics().delivered, 1);
}

#[tokio::test]
async fn a_disconnected_session_leaves_no_subscriptions_behind() {
    let hub = hub().await;
    let mut gone = Peer::connect(&hub.url()).await;
    gone.sub_synced("1", "svc.>", None).await;
    gone.sub_synced("2", "svc.q", Some("g")).await;
    assert_eq!(hub.metrics().subscriptions, 3);
    let gone_session = gone.session.clone();
    gone.close().await;
    eventually("the session is forgotten", || {
        hub.metrics().sessions == 0 && hub.metrics().subscriptions == 0
    })
    .await;

    let mut requester = Peer::connect(&hub.url()).await;
    requester.publish("svc.q", b"?", Some("_INBOX.r")).await;
    requester.expect_err(ErrorCode::NoResponders).await;
    requester
        .publish(&format!("_SESSION.{gone_session}"), b"?", Some("_INBOX.r"))
        .await;
    requester.expect_err(ErrorCode::NoResponders).await;
}

#[tokio::test]
async fn a_session_that_never_reads_is_closed_with_1013_while_others_keep_receiving() {
    let hub = Hub::builder()
        .with_queue_capacity(32)
        .with_send_deadline(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let url = hub.url();
    let mut stalled = Peer::connect(&url).await;
    stalled.sub_synced("s", "flood", None).await;
    let mut reader = Peer::connect(&url).await;
    reader.sub_synced("r", "flood", None).await;

    let body = vec![b'x'; 32 * 1024];
    // The reader reads on its own task, counting until the final message.
    let reading = tokio::spawn(async move {
        let mut count = 0usize;
        loop {
            let (_, _, body, _) = reader.next_msg().await;
            if &body[..] == b"end" {
                return (count, reader);
            }
            count += 1;
        }
    });
    let mut publisher = Peer::connect(&url).await;
    let mut sent = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while hub.metrics().slow_consumers == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled session was never closed"
        );
        // Bursts well below the queue: a reader that reads never sees its queue full.
        for _ in 0..8 {
            publisher.publish("flood", &body, None).await;
            sent += 1;
        }
        // Pace the flood a little: the reader keeps up, the stalled one does not.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    publisher.publish("flood", b"end", None).await;
    let (received, mut reader) = tokio::time::timeout(WAIT * 4, reading)
        .await
        .expect("the reader finishes")
        .unwrap();
    assert_eq!(received, sent, "the reader got every message");
    assert_eq!(hub.metrics().slow_consumers, 1);
    // Either its queue stayed full past the deadline, or one write to it took longer.
    let server = hub.server().metrics();
    assert!(server.dropped > 0 || server.send_timeouts > 0, "{server:?}");
    // The stalled session's connection ends (with 1013 if the close frame got through its
    // full socket, else by the server dropping it).
    match stalled.ending(WAIT * 4).await {
        Ending::Closed(code) => assert_eq!(code, Some(1013)),
        Ending::Dropped => {}
    }
    eventually("the stalled session is forgotten", || {
        hub.metrics().sessions == 2
    })
    .await;
    // The reader is still served.
    publisher.publish("flood", b"after", None).await;
    assert_eq!(&reader.next_msg().await.2[..], b"after");
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001_and_reports() {
    let hub = hub().await;
    let mut peer = Peer::connect(&hub.url()).await;
    peer.sub_synced("1", "x", None).await;
    let report = hub.shutdown(Duration::from_secs(2)).await.unwrap();
    assert_eq!(report.sessions, 1);
    assert_eq!(peer.ending(WAIT).await, Ending::Closed(Some(1001)));
    assert!(
        hub.shutdown(Duration::from_secs(1)).await.is_err(),
        "a second shutdown is refused"
    );
}
