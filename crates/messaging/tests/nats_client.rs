//! The `nats` codec against a real nats-server (each test starts its own, on free loopback
//! ports, through its WebSocket listener).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use messaging::client::{ClientConfig, Codec, MessagingClient, Subscription};
use messaging::testing::{NatsOptions, NatsServer};
use messaging::{BrokerMessage, MessagingError};

const WAIT: Duration = Duration::from_secs(5);

fn config(server: &NatsServer) -> ClientConfig {
    ClientConfig::new(server.ws_url(), Codec::Nats).with_connect_timeout(Duration::from_secs(3))
}

async fn client(server: &NatsServer) -> MessagingClient {
    MessagingClient::connect(config(server))
        .await
        .expect("connects to nats-server")
}

async fn recv(sub: &mut Subscription) -> BrokerMessage {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("a message within 5 s")
        .expect("the subscription is open")
}

async fn silent(sub: &mut Subscription, for_: Duration) {
    if let Ok(Some(msg)) = tokio::time::timeout(for_, sub.recv()).await {
        panic!("unexpected message on {}: {msg:?}", sub.pattern());
    }
}

fn body(msg: &BrokerMessage) -> &str {
    std::str::from_utf8(&msg.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_with_star_and_tail_wildcards() {
    let server = NatsServer::start().unwrap();
    let a = client(&server).await;
    let b = client(&server).await;
    let mut star = a.subscribe("orders.*", None).await.unwrap();
    let mut tail = a.subscribe("orders.>", None).await.unwrap();
    let mut exact = a.subscribe("orders.eu.new", None).await.unwrap();
    a.flush(WAIT).await.unwrap();

    b.publish("orders.new", "1").await.unwrap();
    b.publish("orders.eu.new", "2").await.unwrap();
    b.publish("other.new", "3").await.unwrap();
    b.flush(WAIT).await.unwrap();

    let m = recv(&mut star).await;
    assert_eq!((m.subject.as_str(), body(&m)), ("orders.new", "1"));
    assert_eq!(body(&recv(&mut tail).await), "1");
    assert_eq!(body(&recv(&mut tail).await), "2");
    let m = recv(&mut exact).await;
    assert_eq!((m.subject.as_str(), body(&m)), ("orders.eu.new", "2"));
    assert!(m.reply_to.is_none());
    silent(&mut star, Duration::from_millis(200)).await;
    silent(&mut tail, Duration::from_millis(10)).await;
    silent(&mut exact, Duration::from_millis(10)).await;

    // Bad subjects are refused before anything is sent.
    assert!(matches!(
        b.publish("orders.*", "x").await,
        Err(MessagingError::SubjectInvalid { .. })
    ));
    assert!(matches!(
        a.subscribe("a..b", None).await,
        Err(MessagingError::SubjectInvalid { .. })
    ));
    assert!(matches!(
        a.subscribe("a", Some("bad group")).await,
        Err(MessagingError::SubjectInvalid { .. })
    ));
    a.shutdown().await;
    // After shutdown the streams end.
    assert_eq!(tokio::time::timeout(WAIT, star.recv()).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_groups_give_each_message_to_one_member_and_every_plain_subscriber() {
    let server = NatsServer::start().unwrap();
    let subscriber = client(&server).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(subscriber.subscribe("jobs", Some("workers")).await.unwrap());
    }
    let mut plain = subscriber.subscribe("jobs", None).await.unwrap();
    subscriber.flush(WAIT).await.unwrap();

    let publisher = client(&server).await;
    for i in 0..30 {
        publisher.publish("jobs", i.to_string()).await.unwrap();
    }
    publisher.flush(WAIT).await.unwrap();

    let mut seen_by_plain = HashSet::new();
    for _ in 0..30 {
        seen_by_plain.insert(body(&recv(&mut plain).await).to_owned());
    }
    assert_eq!(seen_by_plain.len(), 30);
    subscriber.flush(WAIT).await.unwrap();
    let mut seen_by_group: HashMap<String, usize> = HashMap::new();
    let mut busy_members = 0;
    for member in &mut members {
        let mut got = 0;
        while let Some(msg) = member.try_recv() {
            *seen_by_group.entry(body(&msg).to_owned()).or_default() += 1;
            got += 1;
        }
        if got > 0 {
            busy_members += 1;
        }
    }
    assert_eq!(seen_by_group.len(), 30, "every message reached the group");
    assert!(
        seen_by_group.values().all(|n| *n == 1),
        "each message reached exactly one member: {seen_by_group:?}"
    );
    assert!(busy_members >= 2, "the group spread the work");
    silent(&mut plain, Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_through_the_inbox() {
    let server = NatsServer::start().unwrap();
    let responder = client(&server).await;
    let mut service = responder.subscribe("svc.echo", None).await.unwrap();
    responder.flush(WAIT).await.unwrap();
    let answering = responder.clone();
    tokio::spawn(async move {
        while let Some(msg) = service.recv().await {
            let reply = msg.reply_to.clone().expect("a request has a reply subject");
            let answer = format!("echo:{}", body(&msg));
            answering.publish(reply, answer).await.unwrap();
        }
    });

    let requester = client(&server).await;
    let mut calls = Vec::new();
    for i in 0..20 {
        let requester = requester.clone();
        calls.push(tokio::spawn(async move {
            requester
                .request("svc.echo", i.to_string(), WAIT)
                .await
                .map(|m| body(&m).to_owned())
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), format!("echo:{i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_answers_times_out_on_its_own_timeout() {
    let server = NatsServer::start().unwrap();
    let c = client(&server).await;
    let _mute = c.subscribe("svc.mute", None).await.unwrap();
    c.flush(WAIT).await.unwrap();
    let started = Instant::now();
    let err = c
        .request("svc.mute", "hello", Duration::from_millis(300))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, MessagingError::Timeout { subject, after } if subject == "svc.mute" && *after == Duration::from_millis(300)),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_responders_fails_at_once() {
    let server = NatsServer::start().unwrap();
    let c = client(&server).await;
    let started = Instant::now();
    let err = c
        .request("nobody.home", "hello", Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MessagingError::NoResponders { subject } if subject == "nobody.home"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_token_is_checked() {
    let mut options = NatsOptions::default();
    options.auth_token = Some("right-token".into());
    let server = NatsServer::start_with(options).unwrap();

    let good = MessagingClient::connect(config(&server).with_auth_token("right-token"))
        .await
        .unwrap();
    let mut sub = good.subscribe("secure.x", None).await.unwrap();
    good.flush(WAIT).await.unwrap();
    good.publish("secure.x", "ok").await.unwrap();
    assert_eq!(body(&recv(&mut sub).await), "ok");

    for token in [Some("wrong-token"), None] {
        let mut cfg = config(&server);
        if let Some(token) = token {
            cfg = cfg.with_auth_token(token);
        }
        let started = Instant::now();
        let err = MessagingClient::connect(cfg).await.unwrap_err();
        assert!(
            matches!(&err, MessagingError::AccessDenied { message, .. } if message.contains("Authorization Violation")),
            "{err}"
        );
        assert!(!err.to_string().contains("wrong-token"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "refused fast, not a timeout"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_max_payload_is_enforced_by_the_client() {
    let mut options = NatsOptions::default();
    options.max_payload = Some(1024);
    let server = NatsServer::start_with(options).unwrap();
    let c = client(&server).await;
    assert_eq!(c.max_payload(), 1024);
    assert_eq!(c.session().max_payload, 1024);
    let mut sub = c.subscribe("big", None).await.unwrap();
    c.flush(WAIT).await.unwrap();

    let err = c.publish("big", vec![7u8; 2000]).await.unwrap_err();
    assert_eq!(
        err,
        MessagingError::TooLarge {
            size: 2000,
            max: 1024
        }
    );
    let err = c.request("big", vec![7u8; 1025], WAIT).await.unwrap_err();
    assert_eq!(
        err,
        MessagingError::TooLarge {
            size: 1025,
            max: 1024
        }
    );
    // The limit itself passes, and the connection is still fine.
    c.publish("big", vec![7u8; 1024]).await.unwrap();
    assert_eq!(recv(&mut sub).await.body.len(), 1024);
    assert!(c.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_fails_pending_requests_at_once_and_restores_subscriptions() {
    let mut server = NatsServer::start().unwrap();
    let c = client(&server).await;
    let session = c.session().id;
    let mut sub = c.subscribe("r.*", None).await.unwrap();
    let mut grouped = c.subscribe("g.x", Some("grp")).await.unwrap();
    let _mute = c.subscribe("svc.mute", None).await.unwrap();
    c.flush(WAIT).await.unwrap();
    c.publish("r.1", "before").await.unwrap();
    assert_eq!(body(&recv(&mut sub).await), "before");

    let requester = c.clone();
    let pending = tokio::spawn(async move {
        let started = Instant::now();
        let result = requester
            .request("svc.mute", "x", Duration::from_secs(20))
            .await;
        (result, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    tokio::task::block_in_place(|| server.stop());
    let (result, took) = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    assert_eq!(result.unwrap_err(), MessagingError::NotConnected);
    assert!(
        took < Duration::from_secs(3),
        "failed at the drop, not the timeout: {took:?}"
    );

    // While down: publishing fails at once, nothing is queued for later.
    let deadline = Instant::now() + WAIT;
    while c.is_connected() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        c.publish("r.2", "while-down").await.unwrap_err(),
        MessagingError::NotConnected
    );
    assert_eq!(
        c.request("svc.mute", "x", WAIT).await.unwrap_err(),
        MessagingError::NotConnected
    );

    tokio::task::block_in_place(|| server.restart()).unwrap();
    c.wait_connected(Duration::from_secs(15)).await.unwrap();
    // The very first publish after the reconnect already finds the subscription restored.
    c.publish("r.3", "after").await.unwrap();
    let m = recv(&mut sub).await;
    assert_eq!((m.subject.as_str(), body(&m)), ("r.3", "after"));
    c.publish("g.x", "grouped").await.unwrap();
    assert_eq!(body(&recv(&mut grouped).await), "grouped");
    // Nothing twice, nothing from while it was down.
    c.flush(WAIT).await.unwrap();
    silent(&mut sub, Duration::from_millis(200)).await;
    silent(&mut grouped, Duration::from_millis(10)).await;
    assert_eq!(c.session().id, session, "the nats session id is stable");

    // Requests work again on the new connection.
    let _ = _mute;
    assert!(matches!(
        c.request("nobody", "x", WAIT).await,
        Err(MessagingError::NoResponders { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_fails_waiting_requests_and_late_replies_go_nowhere() {
    let server = NatsServer::start().unwrap();
    // A responder that answers each request 300 ms late, with the request's own body.
    let responder = client(&server).await;
    let mut service = responder.subscribe("svc.slow", None).await.unwrap();
    responder.flush(WAIT).await.unwrap();
    let answering = responder.clone();
    tokio::spawn(async move {
        while let Some(msg) = service.recv().await {
            let answering = answering.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = answering.publish(msg.reply_to.unwrap(), msg.body).await;
            });
        }
    });
    let c = client(&server).await;
    let first = {
        let c = c.clone();
        tokio::spawn(async move { c.request("svc.slow", "first", WAIT).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.reconnect().await.unwrap();
    assert_eq!(
        first.await.unwrap().unwrap_err(),
        MessagingError::NotConnected,
        "the drop fails the waiting request at once"
    );
    // The first reply arrives (late) at the old connection's inbox, which this connection
    // does not subscribe: the next request gets its own reply.
    let second = c.request("svc.slow", "second", WAIT).await.unwrap();
    assert_eq!(body(&second), "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_subscription_drops_new_messages_and_counts_them() {
    let server = NatsServer::start().unwrap();
    let c = MessagingClient::connect(config(&server).with_subscription_capacity(4))
        .await
        .unwrap();
    let mut slow = c.subscribe("flood", None).await.unwrap();
    let mut other = c.subscribe("other", None).await.unwrap();
    c.flush(WAIT).await.unwrap();
    for i in 0..10 {
        c.publish("flood", i.to_string()).await.unwrap();
    }
    c.publish("other", "fine").await.unwrap();
    assert_eq!(body(&recv(&mut other).await), "fine");
    c.flush(WAIT).await.unwrap();
    assert_eq!(slow.dropped(), 6);
    // The oldest four were kept, in order.
    for i in 0..4 {
        assert_eq!(body(&recv(&mut slow).await), i.to_string());
    }
    silent(&mut slow, Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_stops_delivery() {
    let server = NatsServer::start().unwrap();
    let c = client(&server).await;
    let sub = c.subscribe("u.x", None).await.unwrap();
    let mut witness = c.subscribe("u.x", None).await.unwrap();
    c.flush(WAIT).await.unwrap();
    sub.unsubscribe().await.unwrap();
    {
        let _dropped = c.subscribe("u.x", None).await.unwrap();
    }
    c.flush(WAIT).await.unwrap();
    c.publish("u.x", "1").await.unwrap();
    assert_eq!(body(&recv(&mut witness).await), "1");
    // The server itself no longer routes to the others: a request finds one responder's
    // worth of subscribers only (checked through the server's view of no-responders).
    witness.unsubscribe().await.unwrap();
    c.flush(WAIT).await.unwrap();
    assert!(matches!(
        c.request("u.x", "x", WAIT).await,
        Err(MessagingError::NoResponders { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_reported_not_hung() {
    let server = NatsServer::start().unwrap();
    let url = server.ws_url();
    drop(server);
    let started = Instant::now();
    let err = MessagingClient::connect(
        ClientConfig::new(url, Codec::Nats).with_connect_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, MessagingError::BrokerUnavailable { .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    let err = MessagingClient::connect(ClientConfig::new("http://x", Codec::Nats))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a WebSocket URL"), "{err}");
}
