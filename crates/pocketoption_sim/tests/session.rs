//! Session start, auth and keep-alive, over real loopback sockets.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use binary_options_tools::{RealSession, Ssid};
use pocketoption_sim::{AuthPolicy, Delivery};
use serde_json::json;
use support::*;

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

#[tokio::test]
async fn handshake_follows_the_fact_sheet() {
    let sim = start(
        Simulator::builder()
            .with_ping_interval(Duration::from_millis(25_000))
            .with_ping_timeout(Duration::from_millis(20_000))
            .with_server_name("sim-test"),
    )
    .await;
    let mut c = Client::connect(&sim.url()).await;
    assert!(c.open["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(c.open["upgrades"], json!([]));
    assert_eq!(c.open["pingInterval"], 25_000);
    assert_eq!(c.open["pingTimeout"], 20_000);
    assert!(c.open["maxPayload"].as_u64().is_some());

    c.send("40").await;
    let ack = c.next_text().await;
    let ack_json: serde_json::Value =
        serde_json::from_str(ack.strip_prefix("40").unwrap()).unwrap();
    assert!(ack_json["sid"].as_str().is_some_and(|s| !s.is_empty()));

    c.send(&demo_auth("tok-1", 12345678)).await;
    // Exactly the platform's two-step successauth.
    assert_eq!(
        c.next_text().await,
        r#"451-["successauth",{"_placeholder":true,"num":0}]"#
    );
    let Seen::Binary(body) = c.next().await else {
        panic!("successauth attachment missing")
    };
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["serverName"], "sim-test");
    assert!(body["id"].is_string());

    // State pushed after auth, as the platform does.
    let balance = c.expect_event("successupdateBalance").await;
    assert_eq!(balance["balance"], 50000.0);
    assert_eq!(balance["isDemo"], 1);
    assert_eq!(c.expect_event("updateOpenedDeals").await, json!([]));
    assert_eq!(c.expect_event("updateClosedDeals").await, json!([]));
    assert_eq!(sim.active_connections(), 1);
    stop(sim).await;
}

#[tokio::test]
async fn upgrades_on_a_wrong_path_or_engine_version_are_refused() {
    let sim = start(Simulator::builder()).await;
    let base = format!("ws://{}", sim.addr());
    for (path, status) in [
        ("/wrong/?EIO=4&transport=websocket", 404),
        ("/socket.io/?EIO=3&transport=websocket", 400),
        ("/socket.io/?EIO=4&transport=polling", 400),
    ] {
        let err = connect_ws(&format!("{base}{path}"), None)
            .await
            .expect_err(path);
        match err {
            tokio_tungstenite::tungstenite::Error::Http(response) => {
                assert_eq!(response.status().as_u16(), status, "{path}")
            }
            other => panic!("{path}: expected an HTTP error, got {other:?}"),
        }
    }
    // The right URL still works.
    Client::connect(&sim.url()).await;
    stop(sim).await;
}

#[tokio::test]
async fn rejected_session_gets_not_authorized_then_41() {
    let accepted: HashSet<String> = ["good-token".to_owned()].into();
    let sim = start(Simulator::builder().with_auth_policy(AuthPolicy::AcceptOnly(accepted))).await;

    let mut c = Client::connect(&sim.url()).await;
    c.send("40").await;
    c.next_text().await;
    c.send(&demo_auth("bad-token", 1)).await;
    assert_eq!(c.next_text().await, r#"42["NotAuthorized"]"#);
    assert_eq!(c.next_text().await, "41");
    // Nothing is served to a rejected session.
    c.send(r#"42["getBalance"]"#).await;
    c.assert_no_event("successupdateBalance", Duration::from_millis(300))
        .await;
    assert!(sim.account(1).is_none());

    // A listed token gets in.
    let mut ok = Client::login(&sim.url(), &demo_auth("good-token", 2)).await;
    assert_eq!(ok.balance().await, 50000.0);

    // Switching policy at run time rejects everyone from now on, with the configured name.
    sim.set_auth_policy(AuthPolicy::RejectAll);
    let mut late = Client::connect(&sim.url()).await;
    late.send("40").await;
    late.next_text().await;
    late.send(&demo_auth("good-token", 2)).await;
    assert_eq!(late.next_text().await, r#"42["NotAuthorized"]"#);
    stop(sim).await;
}

#[tokio::test]
async fn unreadable_ssid_is_rejected_like_an_expired_session() {
    let sim = start(Simulator::builder().with_reject_event("auth_error")).await;
    let mut c = Client::connect(&sim.url()).await;
    c.send("40").await;
    c.next_text().await;
    c.send(r#"42["auth",{"isDemo":1,"uid":5}]"#).await;
    assert_eq!(c.next_text().await, r#"42["auth_error"]"#);
    assert_eq!(c.next_text().await, "41");
    stop(sim).await;
}

#[tokio::test]
async fn real_session_is_bound_to_its_user_agent_when_checked() {
    let sim = start(Simulator::builder().with_user_agent_check(true)).await;
    let session = RealSession::new(
        "0123456789abcdef0123456789abcdef",
        "127.0.0.1",
        UA,
        1_732_288_888,
        "f".repeat(32),
    );
    let frame = Ssid::real(session, 777).auth_frame();

    let mut good = Client::connect_as(&sim.url(), Some(UA)).await;
    good.send("40").await;
    good.next_text().await;
    good.send(&frame).await;
    good.expect_event("successauth").await;
    let balance = good.expect_event("successupdateBalance").await;
    assert_eq!(balance["isDemo"], 0);
    assert_eq!(balance["balance"], 1000.0);

    let mut bad = Client::connect_as(&sim.url(), Some("curl/8.0")).await;
    bad.send("40").await;
    bad.next_text().await;
    bad.send(&frame).await;
    assert_eq!(bad.next_text().await, r#"42["NotAuthorized"]"#);
    stop(sim).await;
}

#[tokio::test]
async fn demo_and_real_accounts_keep_separate_balances() {
    let sim = start(
        Simulator::builder()
            .with_demo_balance(100.0)
            .with_real_balance(7.5),
    )
    .await;
    let mut demo = Client::login(&sim.url(), &demo_auth("t", 42)).await;
    let real_frame = r#"42["auth",{"session":"t","isDemo":0,"uid":42,"platform":2}]"#;
    let mut real = Client::login(&sim.url(), real_frame).await;
    assert_eq!(demo.balance().await, 100.0);
    assert_eq!(real.balance().await, 7.5);
    sim.set_balance(42, true, 1234.56);
    assert_eq!(demo.balance().await, 1234.56);
    assert_eq!(real.balance().await, 7.5);
    let account = sim.account(42).unwrap();
    assert_eq!(account.demo_balance, 1234.56);
    assert_eq!(account.real_balance, 7.5);
    stop(sim).await;
}

#[tokio::test]
async fn client_that_misses_its_pong_is_closed() {
    let sim = start(
        Simulator::builder()
            .with_ping_interval(Duration::from_millis(100))
            .with_ping_timeout(Duration::from_millis(150)),
    )
    .await;
    let mut c = Client::connect(&sim.url()).await;
    assert_eq!(c.open["pingInterval"], 100);
    assert_eq!(c.next_text().await, "2");
    // No pong: the server closes with an empty close frame, as Node's engine.io does.
    let end = c.next().await;
    assert!(
        matches!(end, Seen::Close(None) | Seen::Gone),
        "expected a close, got {end:?}"
    );
    sim.wait_for_connections(0, WAIT).await.unwrap();
    stop(sim).await;
}

#[tokio::test]
async fn client_that_answers_pings_and_sends_ps_stays_connected() {
    let sim = start(
        Simulator::builder()
            .with_ping_interval(Duration::from_millis(60))
            .with_ping_timeout(Duration::from_millis(100)),
    )
    .await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 1)).await;
    for _ in 0..3 {
        c.send(r#"42["ps"]"#).await;
        // Unknown and keep-alive events are ignored without a reply or a disconnect.
        c.send(r#"42["favorite/load"]"#).await;
        c.send(r#"42["somethingNew",{"x":1}]"#).await;
        // Read (and answer pings) for longer than several ping intervals.
        c.assert_no_event("error", Duration::from_millis(150)).await;
    }
    assert!(c.pings_seen >= 3, "only {} pings", c.pings_seen);
    assert_eq!(c.balance().await, 50000.0);
    assert_eq!(sim.active_connections(), 1);
    stop(sim).await;
}

#[tokio::test]
async fn events_before_the_namespace_connect_or_auth_are_ignored() {
    let sim = start(Simulator::builder()).await;
    let mut c = Client::connect(&sim.url()).await;
    c.send(r#"42["getBalance"]"#).await;
    c.send("40").await;
    c.next_text().await; // the connect ack, and nothing before it
    c.send(r#"42["getBalance"]"#).await;
    c.assert_no_event("successupdateBalance", Duration::from_millis(200))
        .await;
    c.send(&demo_auth("t", 3)).await;
    c.expect_event("successauth").await;
    assert_eq!(c.balance().await, 50000.0);
    stop(sim).await;
}

#[tokio::test]
async fn delivery_is_configurable_per_event() {
    let sim = start(
        Simulator::builder()
            .with_delivery(Delivery::OneStep)
            .with_delivery_for("successupdateBalance", Delivery::TwoStep),
    )
    .await;
    let mut c = Client::connect(&sim.url()).await;
    c.send("40").await;
    c.next_text().await;
    c.send(&demo_auth("t", 9)).await;
    let auth = c.next_text().await;
    assert!(auth.starts_with(r#"42["successauth",{"#), "{auth}");
    let balance = c.expect_event_full("successupdateBalance").await;
    assert!(balance.two_step);
    let opened = c.expect_event_full("updateOpenedDeals").await;
    assert!(!opened.two_step);
    stop(sim).await;
}
