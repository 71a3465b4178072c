//! Assets, ticks, subscriptions and history, over real loopback sockets.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use pocketoption_sim::{Delivery, HistoryItems};
use serde_json::{Value, json};
use support::*;

async fn logged_in(sim: &Simulator) -> Client {
    Client::login(&sim.url(), &demo_auth("t", 1)).await
}

/// Collects ticks for `within`: (symbol, unix seconds, price).
async fn ticks(c: &mut Client, within: Duration) -> Vec<(String, f64, f64)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return out;
        }
        match c.next_event_within(left).await {
            Some(e) if e.name == "updateStream" => {
                assert!(e.two_step, "ticks are two-step by default");
                for item in e.payload.as_array().expect("tick batch") {
                    out.push((
                        item[0].as_str().unwrap().to_owned(),
                        item[1].as_f64().unwrap(),
                        item[2].as_f64().unwrap(),
                    ));
                }
            }
            Some(_) => {}
            None => return out,
        }
    }
}

#[tokio::test]
async fn assets_load_answers_update_assets_with_nineteen_field_rows() {
    let sim = start(Simulator::builder()).await;
    let mut c = logged_in(&sim).await;
    c.send(r#"42["assets/load"]"#).await;
    let assets = c.expect_event("updateAssets").await;
    let rows = assets.as_array().unwrap();
    assert_eq!(rows.len(), sim.assets().len());
    let find = |symbol: &str| rows.iter().find(|r| r[1] == symbol).unwrap().clone();
    let eurusd = find("EURUSD_otc");
    assert_eq!(eurusd.as_array().unwrap().len(), 19);
    assert_eq!(eurusd[0], 66);
    assert_eq!(eurusd[3], "currency");
    assert_eq!(eurusd[5], 92);
    assert_eq!(eurusd[9], 1);
    assert_eq!(eurusd[14], true);
    assert!(
        eurusd[15]
            .as_array()
            .unwrap()
            .contains(&json!({"time": 60}))
    );
    assert_eq!(find("#AAPL_otc")[3], "stock");
    assert_eq!(find("BTCUSD_otc")[3], "cryptocurrency");
    assert_eq!(find("#FB_otc")[14], false);

    // Handle knobs show up in the next list.
    sim.set_payout("EURUSD_otc", 70).unwrap();
    sim.set_asset_active("#FB_otc", true).unwrap();
    c.send(r#"42["assets/load"]"#).await;
    let assets = c.expect_event("updateAssets").await;
    let row = |symbol: &str| {
        assets
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[1] == symbol)
            .unwrap()
            .clone()
    };
    assert_eq!(row("EURUSD_otc")[5], 70);
    assert_eq!(row("#FB_otc")[14], true);
    assert!(sim.set_payout("NOPE", 1).is_err());
    stop(sim).await;
}

#[tokio::test]
async fn change_symbol_sends_history_then_ticks_stream_on_the_price_grid() {
    let sim = start(
        Simulator::builder()
            .with_seed(11)
            .with_tick_interval(Duration::from_millis(50))
            .with_history_points(30),
    )
    .await;
    let mut c = logged_in(&sim).await;
    c.emit("changeSymbol", json!({"asset": "EURUSD_otc", "period": 5}))
        .await;
    let history = c.expect_event("updateHistoryNewFast").await;
    assert_eq!(history["asset"], "EURUSD_otc");
    assert_eq!(history["period"], 5);
    let points = history["history"].as_array().unwrap();
    assert_eq!(points.len(), 30);
    for p in points {
        let (ts, price) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        assert_eq!(
            sim.price_at("EURUSD_otc", (ts * 1000.0).round() as i64)
                .unwrap(),
            price
        );
    }
    let candles = history["candles"].as_array().unwrap();
    assert!(!candles.is_empty());
    for candle in candles {
        // time, open, close, high, low
        let v: Vec<f64> = candle
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(
            v[4] <= v[1] && v[1] <= v[3] && v[4] <= v[2] && v[2] <= v[3],
            "{candle}"
        );
    }

    let seen = ticks(&mut c, Duration::from_millis(400)).await;
    assert!(seen.len() >= 4, "only {} ticks", seen.len());
    let mut last = 0.0;
    for (symbol, ts, price) in &seen {
        assert_eq!(symbol, "EURUSD_otc");
        assert!(*ts > last, "timestamps increase");
        last = *ts;
        let ms = (ts * 1000.0).round() as i64;
        assert_eq!(ms % 50, 0, "ticks sit on the 50 ms grid");
        assert_eq!(sim.price_at("EURUSD_otc", ms).unwrap(), *price);
    }
    stop(sim).await;
}

#[tokio::test]
async fn only_the_last_four_subscribed_assets_stream() {
    let sim = start(Simulator::builder().with_tick_interval(Duration::from_millis(40))).await;
    let mut c = logged_in(&sim).await;
    let assets = [
        "EURUSD_otc",
        "GBPUSD_otc",
        "USDJPY_otc",
        "AUDCAD_otc",
        "#AAPL_otc",
    ];
    for asset in assets {
        c.emit("subfor", json!(asset)).await;
    }
    // Let frames from the moment of subscription pass, then observe.
    ticks(&mut c, Duration::from_millis(100)).await;
    let symbols: HashSet<String> = ticks(&mut c, Duration::from_millis(300))
        .await
        .into_iter()
        .map(|t| t.0)
        .collect();
    let expected: HashSet<String> = assets[1..].iter().map(|s| s.to_string()).collect();
    assert_eq!(symbols, expected);

    // Re-subscribing an asset makes it the most recent; a new one evicts the oldest.
    c.emit("changeSymbol", json!({"asset": "GBPUSD_otc", "period": 60}))
        .await;
    c.emit("subfor", json!("BTCUSD_otc")).await;
    ticks(&mut c, Duration::from_millis(100)).await;
    let symbols: HashSet<String> = ticks(&mut c, Duration::from_millis(300))
        .await
        .into_iter()
        .map(|t| t.0)
        .collect();
    let expected: HashSet<String> = ["AUDCAD_otc", "#AAPL_otc", "GBPUSD_otc", "BTCUSD_otc"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(symbols, expected);

    // unsubfor stops a stream; unknown assets are ignored.
    c.emit("unsubfor", json!("BTCUSD_otc")).await;
    c.emit("subfor", json!("NOT_AN_ASSET")).await;
    ticks(&mut c, Duration::from_millis(100)).await;
    let symbols: HashSet<String> = ticks(&mut c, Duration::from_millis(200))
        .await
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(symbols.len(), 3);
    assert!(!symbols.contains("BTCUSD_otc"));
    stop(sim).await;
}

#[tokio::test]
async fn load_history_period_is_served_from_the_streamed_path_and_echoes_index() {
    let sim = start(Simulator::builder().with_tick_interval(Duration::from_millis(100))).await;
    let mut c = logged_in(&sim).await;
    c.emit("subfor", json!("EURUSD_otc")).await;
    let streamed = ticks(&mut c, Duration::from_millis(700)).await;
    assert!(streamed.len() >= 4);
    let end = streamed.last().unwrap().1.ceil() as i64 + 1;

    // Two requests in flight, answered with their own index.
    for index in [173228888812_i64, 173228888899] {
        c.emit(
            "loadHistoryPeriod",
            json!({"asset":"EURUSD_otc","period":1,"time":end,"index":index,"offset":30}),
        )
        .await;
    }
    let mut pages = Vec::new();
    while pages.len() < 2 {
        let e = c.next_event().await;
        if e.name == "loadHistoryPeriod" {
            pages.push(e.payload);
        }
    }
    assert_eq!(pages[0]["index"], 173228888812_i64);
    assert_eq!(pages[1]["index"], 173228888899_i64);
    // Both answers agree on every second that was over before the requests; the second of
    // the last streamed tick (and any later one) may have moved on between the two.
    let last_second = streamed.last().unwrap().1.floor();
    let settled = |page: &Value| -> Vec<Value> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["time"].as_f64().unwrap() < last_second)
            .cloned()
            .collect()
    };
    assert!(settled(&pages[0]).len() >= 3, "{:?}", pages[0]);
    assert_eq!(settled(&pages[0]), settled(&pages[1]));
    let data = pages[0]["data"].as_array().unwrap();
    assert!(data.len() >= 20, "{} candles", data.len());
    // Every streamed tick lies inside the 1 s candle that covers it; candles open on the grid.
    for (_, ts, price) in &streamed {
        let candle = data
            .iter()
            .find(|c| c["time"].as_f64().unwrap() == ts.floor())
            .unwrap_or_else(|| panic!("no candle for tick at {ts}"));
        let (low, high) = (
            candle["low"].as_f64().unwrap(),
            candle["high"].as_f64().unwrap(),
        );
        assert!(low <= *price && *price <= high, "{price} outside {candle}");
        if (ts * 1000.0).round() as i64 % 1000 == 0 {
            assert_eq!(candle["open"].as_f64().unwrap(), *price);
        }
    }
    let times: Vec<i64> = data.iter().map(|c| c["time"].as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous and sorted"
    );

    // The fast variant answers under its own name.
    c.emit(
        "loadHistoryPeriodFast",
        json!({"asset":"EURUSD_otc","period":5,"time":end,"index":7,"offset":50}),
    )
    .await;
    let fast = c.expect_event("loadHistoryPeriodFast").await;
    assert_eq!(fast["index"], 7);
    assert!(!fast["data"].as_array().unwrap().is_empty());
    stop(sim).await;
}

#[tokio::test]
async fn history_can_be_served_as_price_points() {
    let sim = start(
        Simulator::builder()
            .with_history_items(HistoryItems::Prices)
            .with_tick_interval(Duration::from_millis(100)),
    )
    .await;
    let mut c = logged_in(&sim).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    c.emit(
        "loadHistoryPeriod",
        json!({"asset":"#AAPL_otc","period":1,"time":now - 3600,"index":1,"offset":10}),
    )
    .await;
    let page = c.expect_event("loadHistoryPeriod").await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 11);
    for item in data {
        let t = item["time"].as_f64().unwrap();
        let price = item["price"].as_f64().unwrap();
        assert_eq!(
            sim.price_at("#AAPL_otc", (t * 1000.0) as i64).unwrap(),
            price
        );
    }
    stop(sim).await;
}

#[tokio::test]
async fn prices_are_deterministic_for_a_seed() {
    let (a, b, other) = (
        start(Simulator::builder().with_seed(5)).await,
        start(Simulator::builder().with_seed(5)).await,
        start(Simulator::builder().with_seed(6)).await,
    );
    let t = 1_732_288_888_000;
    for asset in ["EURUSD_otc", "#TSLA_otc", "BTCUSD_otc"] {
        let prices = |s: &Simulator| -> Vec<f64> {
            (0..20)
                .map(|i| s.price_at(asset, t + i * 60_000).unwrap())
                .collect()
        };
        assert_eq!(prices(&a), prices(&b));
        assert_ne!(prices(&a), prices(&other));
    }
    // Different assets follow different paths around their own base price.
    let eur = a.price_at("EURUSD_otc", t).unwrap();
    let btc = a.price_at("BTCUSD_otc", t).unwrap();
    assert!((0.9..1.3).contains(&eur), "{eur}");
    assert!((40_000.0..90_000.0).contains(&btc), "{btc}");
    for s in [a, b, other] {
        stop(s).await;
    }
}

#[tokio::test]
async fn one_step_ticks_carry_the_same_batches() {
    let sim = start(
        Simulator::builder()
            .with_tick_interval(Duration::from_millis(50))
            .with_delivery_for("updateStream", Delivery::OneStep),
    )
    .await;
    let mut c = logged_in(&sim).await;
    c.emit("subfor", json!("ETHUSD_otc")).await;
    let tick = c.expect_event_full("updateStream").await;
    assert!(!tick.two_step);
    let item: &Value = &tick.payload[0];
    assert_eq!(item[0], "ETHUSD_otc");
    assert_eq!(item.as_array().unwrap().len(), 3);
    stop(sim).await;
}

#[tokio::test]
async fn subfor_is_followed_by_the_assets_sentiment() {
    let sim = start(Simulator::builder()).await;
    let mut c = logged_in(&sim).await;
    c.emit("subfor", json!("NOT_AN_ASSET")).await;
    c.assert_no_event("chafor", Duration::from_millis(200))
        .await;
    for asset in ["EURUSD_otc", "#AAPL_otc"] {
        c.emit("subfor", json!(asset)).await;
        let sentiment = c.expect_event_full("chafor").await;
        assert!(sentiment.two_step, "delivered like every other event");
        // Clients read `payload[0][1]`: a percentage.
        let item = &sentiment.payload[0];
        assert_eq!(item[0], asset);
        let percent = item[1].as_u64().expect("a whole percentage");
        assert!(percent <= 100, "{percent}");
    }
    stop(sim).await;
}
