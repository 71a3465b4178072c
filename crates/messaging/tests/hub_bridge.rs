//! Two hubs bridged through one real `nats-server` (`messaging::testing::NatsServer`): one
//! bus for wildcards, queue groups, requests, `_SESSION.<id>`, NATS restarts, and plain NATS
//! clients on the same bus.

mod hub_support;

use std::time::Duration;

use hub_support::{Peer, WAIT};
use messaging::hub::{Hub, SESSION_SID};
use messaging::json::HubFrame;
use messaging::testing::NatsServer;
use messaging::{ErrorCode, Subject};

struct Bus {
    nats: NatsServer,
    a: Hub,
    b: Hub,
}

async fn bus() -> Bus {
    let nats = NatsServer::start().expect("nats-server starts (cargo xtask setup installs it)");
    let a = Hub::builder()
        .with_nats(nats.nats_url())
        .start()
        .await
        .expect("hub A");
    let b = Hub::builder()
        .with_nats(nats.nats_url())
        .start()
        .await
        .expect("hub B");
    assert!(a.is_bridged() && b.is_bridged());
    assert_ne!(a.id(), b.id());
    Bus { nats, a, b }
}

/// Reads `msg` bodies from `peers` until `n` arrived in all (or panics after a while).
async fn collect(peers: &mut [&mut Peer], n: usize) -> Vec<Vec<String>> {
    let mut got = vec![Vec::new(); peers.len()];
    let deadline = tokio::time::Instant::now() + WAIT * 2;
    while got.iter().map(Vec::len).sum::<usize>() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} arrived",
            got.iter().map(Vec::len).sum::<usize>()
        );
        for (i, peer) in peers.iter_mut().enumerate() {
            while let Some(frame) = peer.next_within(Duration::from_millis(20)).await {
                let HubFrame::Msg { body, .. } = frame else {
                    panic!("{frame:?}")
                };
                got[i].push(String::from_utf8(body.to_vec()).unwrap());
            }
        }
    }
    got
}

#[tokio::test]
async fn a_session_on_one_hub_receives_what_a_session_on_another_publishes() {
    let bus = bus().await;
    let mut far = Peer::connect(&bus.b.url()).await;
    far.sub("tail", "metrics.>", None).await;
    // `pong` from a bridged hub also means the subscriptions reached NATS.
    far.sub_synced("star", "metrics.*.cpu", None).await;
    let mut near = Peer::connect(&bus.a.url()).await;
    near.sub_synced("local", "metrics.>", None).await;
    let mut publisher = Peer::connect(&bus.a.url()).await;

    publisher.publish("metrics.h1.cpu", b"42", None).await;
    let mut sids = vec![far.next_msg().await.0, far.next_msg().await.0];
    sids.sort();
    assert_eq!(sids, ["star", "tail"]);
    // The local subscriber gets it once: the NATS echo of its own hub's message is dropped.
    let (sid, subject, body, _) = near.next_msg().await;
    assert_eq!(
        (sid.as_str(), subject.as_str(), &body[..]),
        ("local", "metrics.h1.cpu", &b"42"[..])
    );
    near.expect_nothing().await;
    far.expect_nothing().await;

    // And the other way round.
    far.publish("metrics.h2.mem", b"7", None).await;
    let (_, subject, ..) = near.next_msg().await;
    assert_eq!(subject, "metrics.h2.mem");
    assert_eq!(far.next_msg().await.0, "tail");
    near.expect_nothing().await;
    far.expect_nothing().await;
    assert!(bus.a.metrics().nats_out >= 1 && bus.b.metrics().nats_in >= 1);
}

#[tokio::test]
async fn a_queue_group_spanning_two_hubs_gets_each_message_once() {
    let bus = bus().await;
    let mut members = Vec::new();
    for hub in [&bus.a, &bus.a, &bus.b, &bus.b] {
        let mut peer = Peer::connect(&hub.url()).await;
        peer.sub_synced("w", "work.>", Some("g")).await;
        members.push(peer);
    }
    let mut plain = Peer::connect(&bus.b.url()).await;
    plain.sub_synced("all", "work.>", None).await;
    let mut publisher = Peer::connect(&bus.a.url()).await;
    const N: usize = 200;
    for n in 0..N {
        publisher
            .publish("work.item", n.to_string().as_bytes(), None)
            .await;
    }
    let all = collect(&mut [&mut plain], N).await;
    assert_eq!(all[0].len(), N, "the plain subscriber gets everything");

    let mut refs: Vec<&mut Peer> = members.iter_mut().collect();
    let got = collect(&mut refs, N).await;
    for peer in &mut members {
        peer.expect_nothing().await;
    }
    let mut numbers: Vec<usize> = got.iter().flatten().map(|b| b.parse().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (0..N).collect::<Vec<_>>(),
        "each message exactly once in the group"
    );
    let on_a = got[0].len() + got[1].len();
    let on_b = got[2].len() + got[3].len();
    assert!(
        on_a > 0 && on_b > 0,
        "both hubs serve the group: {on_a} on A, {on_b} on B"
    );
}

#[tokio::test]
async fn a_request_on_one_hub_is_answered_by_a_session_on_another() {
    let bus = bus().await;
    let mut responder = Peer::connect(&bus.b.url()).await;
    responder.sub_synced("svc", "svc.echo", None).await;
    let mut requester = Peer::connect(&bus.a.url()).await;
    let inbox = Subject::new_inbox();
    requester.sub_synced("inbox", inbox.as_str(), None).await;

    for round in 0..3 {
        let question = format!("q{round}");
        requester
            .publish("svc.echo", question.as_bytes(), Some(inbox.as_str()))
            .await;
        let (sid, subject, body, reply_to) = responder.next_msg().await;
        assert_eq!((sid.as_str(), subject.as_str()), ("svc", "svc.echo"));
        assert_eq!(&body[..], question.as_bytes());
        let reply_to = reply_to.expect("a request has a reply subject");
        responder
            .publish(&reply_to, format!("a{round}").as_bytes(), None)
            .await;
        let (sid, subject, body, _) = requester.next_msg().await;
        assert_eq!((sid.as_str(), subject.as_str()), ("inbox", inbox.as_str()));
        assert_eq!(&body[..], format!("a{round}").as_bytes());
    }
    requester.expect_nothing().await;

    // Nobody on either hub: "no responders" at once, through NATS.
    let started = std::time::Instant::now();
    requester
        .publish("svc.nobody", b"?", Some(inbox.as_str()))
        .await;
    let (_, subject) = requester.expect_err(ErrorCode::NoResponders).await;
    assert_eq!(subject.as_deref(), Some("svc.nobody"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_session_on_another_hub_is_reachable_at_its_session_subject() {
    let bus = bus().await;
    let mut target = Peer::connect(&bus.b.url()).await;
    assert_eq!(target.sync().await, vec![]);
    let mut sender = Peer::connect(&bus.a.url()).await;
    let subject = format!("_SESSION.{}", target.session);
    sender.publish(&subject, b"hi", None).await;
    let (sid, got, body, _) = target.next_msg().await;
    assert_eq!(
        (sid.as_str(), got, &body[..]),
        (SESSION_SID, subject.clone(), &b"hi"[..])
    );
    // As a request, it has a responder.
    let inbox = Subject::new_inbox();
    sender.sub_synced("inbox", inbox.as_str(), None).await;
    sender.publish(&subject, b"?", Some(inbox.as_str())).await;
    let (.., reply_to) = target.next_msg().await;
    target.publish(&reply_to.unwrap(), b"!", None).await;
    assert_eq!(&sender.next_msg().await.2[..], b"!");
    // Once it is gone, nobody answers.
    target.close().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        sender.publish(&subject, b"?", Some(inbox.as_str())).await;
        // Until its NATS unsubscription lands, B takes the request and finds nobody (the
        // request then just goes unanswered).
        match sender.next_within(Duration::from_millis(500)).await {
            Some(HubFrame::Err {
                code: ErrorCode::NoResponders,
                ..
            }) => break,
            Some(other) => panic!("{other:?}"),
            None => assert!(
                tokio::time::Instant::now() < deadline,
                "no_responders never came"
            ),
        }
    }
}

#[tokio::test]
async fn the_bridge_resubscribes_after_nats_restarts() {
    let mut bus = bus().await;
    let mut far = Peer::connect(&bus.b.url()).await;
    far.sub_synced("s", "after.>", None).await;
    let mut publisher = Peer::connect(&bus.a.url()).await;
    publisher.publish("after.before", b"0", None).await;
    assert_eq!(&far.next_msg().await.2[..], b"0");

    bus.nats
        .restart()
        .expect("nats-server restarts on the same ports");
    // async-nats reconnects with back-off and re-sends its subscriptions itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0u32;
    let first = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery after the restart"
        );
        n += 1;
        publisher
            .publish("after.restart", n.to_string().as_bytes(), None)
            .await;
        if let Some(frame) = far.next_within(Duration::from_millis(200)).await {
            break frame;
        }
    };
    let HubFrame::Msg { subject, body, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(subject, "after.restart");
    // Whatever else arrives (publishes buffered over the outage), nothing twice.
    let mut seen = vec![String::from_utf8(body.to_vec()).unwrap()];
    for frame in far.sync().await {
        let HubFrame::Msg { body, .. } = frame else {
            panic!("{frame:?}")
        };
        seen.push(String::from_utf8(body.to_vec()).unwrap());
    }
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), count, "a message arrived twice: {seen:?}");
    assert!(count as u32 <= n);
    // Sessions were never disconnected by the NATS outage.
    assert_eq!(bus.a.metrics().sessions, 1);
    assert_eq!(bus.b.metrics().sessions, 1);
}

#[tokio::test]
async fn a_hub_refuses_to_start_without_its_nats_server() {
    let err = Hub::builder()
        .with_nats("nats://user:hunter2@127.0.0.1:1")
        .with_nats_connect_timeout(Duration::from_millis(500))
        .start()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("could not connect to NATS"), "{text}");
    assert!(
        !text.contains("hunter2") && !format!("{err:?}").contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn plain_nats_clients_and_hub_sessions_share_the_bus() {
    use futures::StreamExt;
    let bus = bus().await;
    let client = async_nats::connect(bus.nats.nats_url()).await.unwrap();
    let mut from_hub = client.subscribe("to.nats").await.unwrap();
    client.flush().await.unwrap();
    let mut session = Peer::connect(&bus.a.url()).await;
    session.sub_synced("in", "to.hub", None).await;
    session.sub_synced("svc", "svc.upper", None).await;

    // Session → NATS client, tagged with the hub it came from.
    session.publish("to.nats", b"from a session", None).await;
    let message = tokio::time::timeout(WAIT, from_hub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&message.payload[..], b"from a session");
    let origin = message
        .headers
        .as_ref()
        .and_then(|h| h.get(messaging::hub::HUB_ORIGIN_HEADER));
    assert_eq!(origin.map(|v| v.as_str()), Some(bus.a.id()));

    // NATS client → session.
    client.publish("to.hub", "from nats".into()).await.unwrap();
    let (sid, _, body, _) = session.next_msg().await;
    assert_eq!((sid.as_str(), &body[..]), ("in", &b"from nats"[..]));

    // A NATS request answered by a session.
    let asking = tokio::spawn({
        let client = client.clone();
        async move { client.request("svc.upper", "abc".into()).await }
    });
    let (_, _, body, reply_to) = session.next_msg().await;
    session
        .publish(
            &reply_to.expect("a reply subject"),
            &body.to_ascii_uppercase(),
            None,
        )
        .await;
    let reply = tokio::time::timeout(WAIT, asking)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&reply.payload[..], b"ABC");
}
