//! Orders, settlement and balances, over real loopback sockets. Outcomes are forced by
//! pinning prices; `time_scale` makes a 5 s deal close after 1 s.

mod support;

use std::time::Duration;

use pocketoption_sim::Outcome;
use serde_json::{Value, json};
use support::*;

async fn fast_sim() -> Simulator {
    start(
        Simulator::builder()
            .with_tick_interval(Duration::from_millis(50))
            .with_time_scale(5.0),
    )
    .await
}

fn order(asset: &str, action: &str, amount: f64, time: i64, request_id: Value) -> Value {
    json!({
        "asset": asset, "action": action, "amount": amount, "isDemo": 1,
        "optionType": 100, "requestId": request_id, "time": time,
    })
}

/// Opens an order and returns the `successopenOrder` deal.
async fn open(c: &mut Client, order: Value) -> Value {
    c.emit("openOrder", order).await;
    c.expect_event("successopenOrder").await
}

#[tokio::test]
async fn winning_call_pays_the_stake_plus_payout() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 500)).await;
    sim.pin_price("EURUSD_otc", 1.1).unwrap();
    let deal = open(
        &mut c,
        order("EURUSD_otc", "call", 10.0, 5, json!("req-uuid-1")),
    )
    .await;
    sim.pin_price("EURUSD_otc", 1.2).unwrap();

    assert_eq!(deal["requestId"], "req-uuid-1");
    assert_eq!(deal["asset"], "EURUSD_otc");
    assert_eq!(deal["amount"], 10.0);
    assert_eq!(deal["openPrice"], 1.1);
    assert_eq!(deal["closePrice"], 0.0);
    assert_eq!(deal["command"], 0);
    assert_eq!(deal["isDemo"], 1);
    assert_eq!(deal["percentProfit"], 92);
    assert_eq!(deal["profit"], 9.2, "potential payout while open");
    assert_eq!(deal["uid"], 500);
    assert_eq!(deal["optionType"], 100);
    assert_eq!(deal["currency"], "USD");
    assert_eq!(deal["copyTicket"], "");
    assert_eq!(deal["isCopySignal"], false);
    assert!(
        deal.get("amountUSD").is_none(),
        "amountUSD only once closed"
    );
    let open_ms = deal["openMs"].as_i64().unwrap();
    assert!(
        (0..=999).contains(&open_ms),
        "ms within the second: {open_ms}"
    );
    assert_eq!(deal["closeMs"], 0);
    let (open_ts, close_ts) = (
        deal["openTimestamp"].as_i64().unwrap(),
        deal["closeTimestamp"].as_i64().unwrap(),
    );
    assert_eq!(close_ts - open_ts, 5);
    assert_eq!(
        deal["openTime"].as_str().unwrap().len(),
        "2024-11-22 15:21:28".len()
    );
    let id = deal["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);

    // The stake leaves the balance at once, and the deal is listed as open.
    assert_eq!(
        c.expect_event("successupdateBalance").await["balance"],
        49990.0
    );
    let opened = c.expect_event("updateOpenedDeals").await;
    assert_eq!(opened[0]["id"], id.as_str());
    assert_eq!(sim.open_deals().len(), 1);

    let closed = c.expect_event("successcloseOrder").await;
    // Top level: the gross return (stake + winnings); the deal's own profit is net.
    assert_eq!(closed["profit"], 19.2);
    let d = &closed["deals"][0];
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d["closePrice"], 1.2);
    assert_eq!(d["profit"], 9.2);
    assert_eq!(d["amountUSD"], 10.0);
    assert_eq!(d["openMs"], open_ms);
    assert_eq!(d["closeMs"], 0);
    assert_eq!(
        c.expect_event("successupdateBalance").await["balance"],
        50009.2
    );
    assert_eq!(c.expect_event("updateOpenedDeals").await, json!([]));
    let history = c.expect_event("updateClosedDeals").await;
    assert_eq!(history[0]["id"], id.as_str());
    assert_eq!(sim.closed_deals()[0].outcome, Some(Outcome::Win));
    assert_eq!(sim.account(500).unwrap().demo_balance, 50009.2);
    stop(sim).await;
}

#[tokio::test]
async fn losing_deals_lose_the_stake_whichever_the_direction() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 501)).await;
    sim.pin_price("GBPUSD_otc", 1.3).unwrap();
    sim.pin_price("#AAPL_otc", 190.0).unwrap();
    open(&mut c, order("GBPUSD_otc", "put", 20.0, 5, json!(1))).await;
    open(&mut c, order("#AAPL_otc", "call", 5.0, 5, json!(2))).await;
    sim.pin_price("GBPUSD_otc", 1.31).unwrap(); // up: the put loses
    sim.pin_price("#AAPL_otc", 189.99).unwrap(); // down: the call loses

    let mut profits = Vec::new();
    while profits.len() < 2 {
        let closed = c.expect_event("successcloseOrder").await;
        assert_eq!(closed["profit"], 0.0, "lost deals return nothing");
        for d in closed["deals"].as_array().unwrap() {
            assert_eq!(
                d["profit"].as_f64().unwrap(),
                -d["amount"].as_f64().unwrap()
            );
            profits.push(d["profit"].as_f64().unwrap());
        }
    }
    profits.sort_by(f64::total_cmp);
    assert_eq!(profits, [-20.0, -5.0]);
    assert_eq!(c.balance().await, 49975.0);
    assert!(
        sim.closed_deals()
            .iter()
            .all(|d| d.outcome == Some(Outcome::Loss))
    );
    stop(sim).await;
}

#[tokio::test]
async fn put_wins_when_the_price_falls_and_an_unchanged_price_refunds_the_stake() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 502)).await;
    sim.pin_price("USDJPY_otc", 151.5).unwrap();
    sim.pin_price("ETHUSD_otc", 3000.0).unwrap();
    open(&mut c, order("USDJPY_otc", "put", 100.0, 5, json!("p"))).await;
    open(&mut c, order("ETHUSD_otc", "call", 50.0, 5, json!("d"))).await;
    sim.pin_price("USDJPY_otc", 151.0).unwrap();

    let mut by_request = std::collections::HashMap::new();
    while by_request.len() < 2 {
        let closed = c.expect_event("successcloseOrder").await;
        for d in closed["deals"].as_array().unwrap() {
            by_request.insert(d["requestId"].as_str().unwrap().to_owned(), d.clone());
        }
    }
    // USDJPY_otc pays 88 %.
    assert_eq!(by_request["p"]["profit"], 88.0);
    assert_eq!(by_request["d"]["profit"], 0.0);
    assert_eq!(by_request["d"]["closePrice"], 3000.0);
    assert_eq!(c.balance().await, 50088.0);
    stop(sim).await;
}

#[tokio::test]
async fn invalid_orders_get_failopen_order_without_request_id() {
    let sim = start(
        Simulator::builder()
            .with_amount_limits(1.0, 1000.0)
            .with_max_open_deals(1),
    )
    .await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 503)).await;
    sim.set_balance(503, true, 50.0);
    let cases = [
        (
            order("NOPE_otc", "call", 1.0, 60, json!(1)),
            "ASSET_NOT_FOUND",
        ),
        (
            order("#FB_otc", "call", 1.0, 60, json!(2)),
            "ASSET_INACTIVE",
        ),
        (order("EURUSD_otc", "call", 1.0, 7, json!(3)), "OPEN_TIME"),
        (order("EURUSD_otc", "call", 0.5, 60, json!(4)), "MIN_AMOUNT"),
        (
            order("EURUSD_otc", "call", 1000.01, 60, json!(5)),
            "MAX_AMOUNT",
        ),
        (
            order("EURUSD_otc", "call", 60.0, 60, json!(6)),
            "Not enough money",
        ),
        (
            order("EURUSD_otc", "sideways", 1.0, 60, json!(7)),
            "INVALID_ACTION",
        ),
        (
            json!({"asset": "EURUSD_otc", "amount": 1.0}),
            "INVALID_REQUEST",
        ),
    ];
    for (request, error) in cases {
        let asset = request["asset"].clone();
        let amount = request["amount"].clone();
        c.emit("openOrder", request).await;
        let failure = c.expect_event("failopenOrder").await;
        assert_eq!(failure["error"], error);
        assert_eq!(failure["asset"], asset);
        assert_eq!(failure["amount"], amount);
        assert!(failure.get("requestId").is_none(), "{failure}");
    }
    assert_eq!(c.balance().await, 50.0);
    assert!(sim.open_deals().is_empty());

    // The open-deal limit.
    open(&mut c, order("EURUSD_otc", "call", 1.0, 60, json!(8))).await;
    c.emit("openOrder", order("EURUSD_otc", "call", 1.0, 60, json!(9)))
        .await;
    assert_eq!(
        c.expect_event("failopenOrder").await["error"],
        "MaxDemoTrades"
    );
    stop(sim).await;
}

#[tokio::test]
async fn deals_settle_while_their_owner_is_offline() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 504)).await;
    sim.pin_price("AUDUSD_otc", 0.65).unwrap();
    let deal = open(&mut c, order("AUDUSD_otc", "call", 10.0, 5, json!("x"))).await;
    sim.pin_price("AUDUSD_otc", 0.66).unwrap();
    drop(c);
    sim.wait_for_connections(0, WAIT).await.unwrap();

    // Settled by the server alone.
    tokio::time::timeout(WAIT, async {
        while sim.closed_deals().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the deal never closed");
    // AUDUSD_otc pays 86 %.
    assert_eq!(sim.account(504).unwrap().demo_balance, 50008.6);

    let mut again = Client::login(&sim.url(), &demo_auth("t", 504)).await;
    let closed = again.expect_event("updateClosedDeals").await;
    assert_eq!(closed[0]["id"], deal["id"]);
    assert_eq!(closed[0]["profit"], 8.6);
    stop(sim).await;
}

#[tokio::test]
async fn every_session_of_an_account_sees_its_deals_and_balance() {
    let sim = fast_sim().await;
    let mut a = Client::login(&sim.url(), &demo_auth("t", 505)).await;
    let mut b = Client::login(&sim.url(), &demo_auth("t", 505)).await;
    // Past the state pushed after b's auth.
    assert_eq!(b.expect_event("updateClosedDeals").await, json!([]));
    sim.pin_price("NZDUSD_otc", 0.6).unwrap();
    open(&mut a, order("NZDUSD_otc", "call", 10.0, 5, json!(1))).await;
    let opened = b.expect_event("updateOpenedDeals").await;
    assert_eq!(opened.as_array().unwrap().len(), 1);
    let closed = b.expect_event("successcloseOrder").await;
    // A draw: net 0, the stake comes back.
    assert_eq!(closed["deals"][0]["profit"], 0.0);
    assert_eq!(closed["profit"], 10.0);
    stop(sim).await;
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn pending_order_at_a_time_opens_a_deal_when_due() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 506)).await;
    let open_time = unix_now() + 1;
    c.emit(
        "openPendingOrder",
        json!({"openType":0,"amount":3.0,"asset":"EURUSD_otc","openTime":open_time,
               "openPrice":0,"timeframe":5,"minPayout":80,"command":0}),
    )
    .await;
    let placed = c.expect_event("successopenPendingOrder").await;
    let ticket = placed["ticket"].as_str().unwrap().to_owned();
    assert_eq!(placed["openType"], 0);
    assert_eq!(sim.pending_orders().len(), 1);

    let deal = c.expect_event("successopenOrder").await;
    assert_eq!(deal["requestId"], ticket.as_str());
    assert_eq!(deal["amount"], 3.0);
    assert!(deal["openTimestamp"].as_i64().unwrap() >= open_time);
    assert!(sim.pending_orders().is_empty());
    let closed = c.expect_event("successcloseOrder").await;
    assert_eq!(closed["deals"][0]["requestId"], ticket.as_str());
    stop(sim).await;
}

#[tokio::test]
async fn pending_order_at_a_price_waits_for_the_price() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 507)).await;
    sim.pin_price("GBPUSD_otc", 1.25).unwrap();
    c.emit(
        "openPendingOrder",
        json!({"openType":1,"amount":2.0,"asset":"GBPUSD_otc","openPrice":1.26,
               "timeframe":5,"command":1}),
    )
    .await;
    c.expect_event("successopenPendingOrder").await;
    c.assert_no_event("successopenOrder", Duration::from_millis(300))
        .await;
    sim.pin_price("GBPUSD_otc", 1.26).unwrap();
    let deal = c.expect_event("successopenOrder").await;
    assert_eq!(deal["openPrice"], 1.26);
    assert_eq!(deal["command"], 1);
    stop(sim).await;
}

#[tokio::test]
async fn pending_orders_can_be_cancelled_and_are_validated() {
    let sim = fast_sim().await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", 508)).await;
    let mut tickets = Vec::new();
    for _ in 0..3 {
        c.emit(
            "openPendingOrder",
            json!({"openType":0,"amount":1.0,"asset":"EURUSD_otc","openTime":unix_now() + 600,
                   "timeframe":60,"command":0}),
        )
        .await;
        let placed = c.expect_event("successopenPendingOrder").await;
        tickets.push(placed["ticket"].as_str().unwrap().to_owned());
    }
    c.emit("cancelPendingOrder", json!({"ticket": tickets[0]}))
        .await;
    assert_eq!(
        c.expect_event("successcancelPendingOrder").await["ticket"],
        tickets[0].as_str()
    );
    c.emit("cancelPendingOrder", json!({"ticket": "nope"}))
        .await;
    assert_eq!(
        c.expect_event("failcancelPendingOrder").await["error"],
        "NOT_FOUND"
    );
    c.emit(
        "cancelPendingOrders",
        json!({"tickets": [tickets[1], tickets[2], "nope"]}),
    )
    .await;
    let cancelled = c.expect_event("successcancelPendingOrders").await;
    assert_eq!(cancelled["tickets"], json!([tickets[1], tickets[2]]));
    assert!(sim.pending_orders().is_empty());

    for (request, error) in [
        (
            json!({"openType":0,"amount":1.0,"asset":"NOPE","openTime":unix_now()+60,"timeframe":60,"command":0}),
            "ASSET_NOT_FOUND",
        ),
        (
            json!({"openType":0,"amount":1.0,"asset":"EURUSD_otc","openTime":unix_now()-60,"timeframe":60,"command":0}),
            "OPEN_TIME",
        ),
        (
            json!({"openType":1,"amount":1.0,"asset":"EURUSD_otc","timeframe":60,"command":0}),
            "OPEN_PRICE",
        ),
        (
            json!({"openType":0,"amount":1.0,"asset":"EURUSD_otc","openTime":unix_now()+60,"timeframe":60,"minPayout":99,"command":0}),
            "MIN_PAYOUT",
        ),
        (json!({"amount":1.0}), "INVALID_REQUEST"),
    ] {
        c.emit("openPendingOrder", request).await;
        assert_eq!(c.expect_event("failopenPendingOrder").await["error"], error);
    }
    stop(sim).await;
}
