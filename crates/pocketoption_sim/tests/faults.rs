//! Every fault knob, and shutdown, over real loopback sockets.

mod support;

use std::time::Duration;

use futures::SinkExt;
use pocketoption_sim::MalformedFrame;
use support::*;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn drop_all_connections_cuts_clients_without_a_close_frame() {
    let sim = start(Simulator::builder()).await;
    let mut a = Client::login(&sim.url(), &demo_auth("t", 1)).await;
    let mut b = Client::connect(&sim.url()).await;
    sim.wait_for_connections(2, WAIT).await.unwrap();
    sim.drop_all_connections();
    for c in [&mut a, &mut b] {
        loop {
            match c.next().await {
                Seen::Gone => break,
                Seen::Close(code) => panic!("expected an abrupt drop, got a close frame {code:?}"),
                _ => continue, // frames already in flight
            }
        }
    }
    sim.wait_for_connections(0, WAIT).await.unwrap();
    // New connections are served as usual.
    let mut again = Client::login(&sim.url(), &demo_auth("t", 1)).await;
    assert_eq!(again.balance().await, 50000.0);
    stop(sim).await;
}

#[tokio::test]
async fn silent_server_keeps_connections_open_but_says_nothing() {
    let sim = start(
        Simulator::builder()
            .with_ping_interval(Duration::from_millis(80))
            .with_ping_timeout(Duration::from_millis(80)),
    )
    .await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 2)).await;
    c.assert_no_event("none", Duration::from_millis(100)).await; // drain the auth pushes
    sim.set_silent(true);
    c.send(r#"42["getBalance"]"#).await;
    // No reply, no ping, no close: silence (the client does not even pong).
    assert_eq!(next_seen(&mut c.ws, Duration::from_millis(400)).await, None);
    let mut newcomer = connect_ws(&sim.url(), None)
        .await
        .expect("TCP and upgrade still work");
    assert_eq!(
        next_seen(&mut newcomer, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(sim.active_connections(), 2);

    sim.set_silent(false);
    assert_eq!(c.balance().await, 50000.0);
    // Pings resume and the answered session survives several intervals.
    c.assert_no_event("none", Duration::from_millis(300)).await;
    assert!(c.pings_seen >= 2, "{} pings", c.pings_seen);
    stop(sim).await;
}

#[tokio::test]
async fn refused_connections_get_http_503_for_a_while() {
    let sim = start(Simulator::builder()).await;
    sim.refuse_connections_for(Duration::from_millis(300));
    let started = Instant::now();
    match connect_ws(&sim.url(), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503)
        }
        other => panic!("expected 503, got {:?}", other.map(|_| "a connection")),
    }
    // Retry like a client would, until it works.
    let ws = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ws) = connect_ws(&sim.url(), None).await {
                return ws;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("never accepted again");
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(ws);
    stop(sim).await;
}

#[tokio::test]
async fn malformed_frames_reach_every_client_as_documented() {
    let sim = start(Simulator::builder()).await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 3)).await;
    c.assert_no_event("none", Duration::from_millis(100)).await;
    for kind in MalformedFrame::ALL {
        assert_eq!(sim.send_malformed(kind), 1);
        let first = c.next().await;
        match kind {
            MalformedFrame::GarbageText => {
                assert_eq!(first, Seen::Text("\u{1}this is not engine.io".into()))
            }
            MalformedFrame::InvalidJson => {
                assert_eq!(first, Seen::Text(r#"42["updateStream",{"#.into()))
            }
            MalformedFrame::BinaryWithoutHeader => assert!(matches!(first, Seen::Binary(_))),
            MalformedFrame::HeaderWithoutAttachment => {
                assert_eq!(
                    first,
                    Seen::Text(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#.into())
                );
                assert!(matches!(c.next().await, Seen::Text(t) if t.starts_with("42[")));
            }
            MalformedFrame::TooManyAttachments => {
                assert!(matches!(first, Seen::Text(t) if t.starts_with("4599-")))
            }
            MalformedFrame::UnknownEvent => {
                assert!(
                    matches!(first, Seen::Text(t) if t.starts_with(r#"42["simulatorUnknownEvent""#))
                )
            }
        }
        assert_eq!(MalformedFrame::from_name(kind.name()), Some(kind));
    }
    // The session is unharmed.
    assert_eq!(c.balance().await, 50000.0);
    stop(sim).await;
}

#[tokio::test]
async fn server_ignores_malformed_frames_from_clients() {
    let sim = start(Simulator::builder()).await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 4)).await;
    for frame in [
        Message::text("garbage"),
        Message::text(r#"42["openOrder",{"#),
        Message::binary(&b"[1,2]"[..]),
        Message::text(r#"451-["getBalance",{"_placeholder":true,"num":0}]"#),
        Message::text("4599-[\"x\"]"),
        Message::text(""),
    ] {
        tokio::time::timeout(WAIT, c.ws.send(frame))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(c.balance().await, 50000.0);
    // A two-step event from the client is understood too.
    c.send(r#"451-["getBalance",{"_placeholder":true,"num":0}]"#)
        .await;
    tokio::time::timeout(WAIT, c.ws.send(Message::binary(&b"{}"[..])))
        .await
        .unwrap()
        .unwrap();
    c.expect_event("successupdateBalance").await;
    stop(sim).await;
}

#[tokio::test]
async fn reply_delay_holds_replies_back() {
    let sim = start(Simulator::builder()).await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 5)).await;
    c.assert_no_event("none", Duration::from_millis(100)).await;
    sim.set_reply_delay(Duration::from_millis(300));
    let asked = Instant::now();
    assert_eq!(c.balance().await, 50000.0);
    assert!(
        asked.elapsed() >= Duration::from_millis(300),
        "{:?}",
        asked.elapsed()
    );
    sim.set_reply_delay(Duration::ZERO);
    let asked = Instant::now();
    c.balance().await;
    assert!(
        asked.elapsed() < Duration::from_millis(300),
        "{:?}",
        asked.elapsed()
    );
    stop(sim).await;
}

#[tokio::test]
async fn restart_drops_clients_refuses_during_downtime_and_keeps_accounts() {
    let sim = start(Simulator::builder()).await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 6)).await;
    sim.set_balance(6, true, 77.0);
    let restarting = tokio::spawn({
        let sim = sim.clone();
        async move { sim.restart(Duration::from_millis(400)).await }
    });
    loop {
        match c.next().await {
            Seen::Gone | Seen::Close(_) => break,
            _ => continue,
        }
    }
    // The listener is closed while down: the OS refuses the connection.
    match connect_ws(&sim.url(), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Io(_)) => {}
        other => panic!(
            "expected a refused connection, got {:?}",
            other.map(|_| "a connection")
        ),
    }
    tokio::time::timeout(WAIT, restarting)
        .await
        .unwrap()
        .unwrap()
        .expect("restart failed");
    let mut again = Client::login(&sim.url(), &demo_auth("t", 6)).await;
    assert_eq!(again.balance().await, 77.0);
    stop(sim).await;
}

#[tokio::test]
async fn shutdown_closes_clients_and_stops_listening() {
    let sim = start(Simulator::builder()).await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 7)).await;
    let url = sim.url();
    tokio::time::timeout(WAIT, sim.shutdown())
        .await
        .unwrap()
        .unwrap();
    loop {
        match c.next().await {
            Seen::Gone | Seen::Close(_) => break,
            _ => continue,
        }
    }
    assert!(connect_ws(&url, None).await.is_err());
    // A second shutdown is harmless.
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropping_the_last_clone_stops_the_simulator() {
    let sim = start(Simulator::builder()).await;
    let url = sim.url();
    let mut c = Client::connect(&url).await;
    drop(sim);
    loop {
        match c.next().await {
            Seen::Gone | Seen::Close(_) => break,
            _ => continue,
        }
    }
    let refused = tokio::time::timeout(WAIT, async {
        while connect_ws(&url, None).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        refused.is_ok(),
        "still listening after the last clone was dropped"
    );
}
