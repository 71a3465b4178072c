//! Every deal frame the simulator sends, decoded into the field types other PocketOption
//! clients use (fact sheet §6), over real loopback sockets. A strict struct per frame: every
//! documented field must be present with its type (`openMs`/`closeMs` fit an `i32` and lie
//! in 0..=999, ids are strings, money is a number, timestamps are integers), so a field can
//! no longer drift from the sheet unnoticed. Unknown extra fields are allowed, as on the
//! platform.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pocketoption_sim::{CloseOrderForm, Delivery};
use serde::Deserialize;
use serde_json::{Value, json};
use support::*;

/// A Deal as clients in the wild declare it (fact sheet §6).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDeal {
    id: String,
    open_time: String,
    close_time: String,
    open_timestamp: i64,
    close_timestamp: i64,
    uid: u64,
    request_id: String,
    amount: f64,
    profit: f64,
    percent_profit: i32,
    percent_loss: i32,
    open_price: f64,
    close_price: f64,
    command: i32,
    asset: String,
    is_demo: u32,
    option_type: i32,
    currency: String,
    open_ms: i32,
    close_ms: i32,
    copy_ticket: String,
    is_copy_signal: bool,
    /// Present once the deal is closed (checked below, by state).
    #[serde(rename = "amountUSD")]
    amount_usd: Option<f64>,
}

/// `successcloseOrder` in its object form.
#[derive(Debug, Deserialize)]
struct WireCloseOrder {
    profit: f64,
    deals: Vec<WireDeal>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

/// Decodes `value` strictly, or fails the test naming the frame and the field.
fn decode<T: for<'de> Deserialize<'de>>(frame: &str, value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| {
        panic!("{frame} does not decode as other clients read it: {e}\n{value}")
    })
}

fn assert_uuid(what: &str, s: &str) {
    let ok = s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    assert!(ok, "{what} is not a UUID: {s:?}");
}

/// `YYYY-MM-DD HH:MM:SS` whose time of day is `unix`'s (UTC).
fn assert_platform_time(what: &str, text: &str, unix: i64) {
    let b = text.as_bytes();
    let shape = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "{what} is not YYYY-MM-DD HH:MM:SS: {text:?}");
    let secs = unix.rem_euclid(86_400);
    let expected = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    assert_eq!(&text[11..], expected, "{what} disagrees with its timestamp");
}

/// The checks every deal passes, open or closed.
fn check_deal(frame: &str, d: &WireDeal, closed: bool) {
    assert_uuid(&format!("{frame} id"), &d.id);
    assert!(
        (0..=999).contains(&d.open_ms),
        "{frame}: openMs {} is not a millisecond within the second",
        d.open_ms
    );
    assert!(
        (0..=999).contains(&d.close_ms),
        "{frame}: closeMs {} is not a millisecond within the second",
        d.close_ms
    );
    assert_platform_time(&format!("{frame} openTime"), &d.open_time, d.open_timestamp);
    assert_platform_time(
        &format!("{frame} closeTime"),
        &d.close_time,
        d.close_timestamp,
    );
    assert!(d.close_timestamp > d.open_timestamp, "{frame}: {d:?}");
    assert!(matches!(d.command, 0 | 1), "{frame}: command {}", d.command);
    assert_eq!(d.is_demo, 1, "{frame}: a demo session's deal");
    assert_eq!(d.uid, UID);
    assert!(!d.request_id.is_empty());
    assert_eq!(d.copy_ticket, "");
    assert!(!d.is_copy_signal);
    assert_eq!(d.currency, "USD");
    assert_eq!(d.option_type, 100);
    assert_eq!(d.percent_loss, 100);
    assert!((1..=100).contains(&d.percent_profit));
    assert!(d.amount > 0.0 && d.open_price > 0.0, "{frame}: {d:?}");
    assert!(!d.asset.is_empty());
    let potential = (cents(d.amount) * i64::from(d.percent_profit) + 50) / 100;
    if closed {
        assert!(
            d.close_price > 0.0,
            "{frame}: a closed deal has a close price"
        );
        assert_eq!(
            d.amount_usd.map(cents),
            Some(cents(d.amount)),
            "{frame}: amountUSD on a closed deal"
        );
        let net = cents(d.profit);
        assert!(
            net == -cents(d.amount) || net == 0 || net == potential,
            "{frame}: net profit {} of a deal of {}",
            d.profit,
            d.amount
        );
    } else {
        assert_eq!(d.close_price, 0.0, "{frame}: 0 while open");
        assert_eq!(
            cents(d.profit),
            potential,
            "{frame}: the potential payout while open"
        );
    }
}

const UID: u64 = 600;

fn order(asset: &str, action: &str, amount: f64, request_id: &str) -> Value {
    json!({
        "asset": asset, "action": action, "amount": amount, "isDemo": 1,
        "optionType": 100, "requestId": request_id, "time": 5,
    })
}

/// What a run saw, by frame kind.
#[derive(Default)]
struct Seen {
    counts: HashMap<&'static str, usize>,
    /// Closed deals by id, from `successcloseOrder`.
    closed: HashMap<String, WireDeal>,
}

impl Seen {
    fn count(&mut self, frame: &'static str) {
        *self.counts.entry(frame).or_default() += 1;
    }
}

/// Opens a win, a loss, a draw and a pending order (which fills and settles), then decodes
/// every deal frame until all four have closed and the lists say so.
async fn every_deal_frame_decodes(delivery: Delivery) {
    let sim = start(
        Simulator::builder()
            .with_tick_interval(Duration::from_millis(50))
            .with_time_scale(5.0)
            .with_delivery(delivery),
    )
    .await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", UID)).await;
    sim.pin_price("EURUSD_otc", 1.1).unwrap();
    sim.pin_price("GBPUSD_otc", 1.3).unwrap();
    sim.pin_price("ETHUSD_otc", 3000.0).unwrap();

    let mut seen = Seen::default();
    let mut opened_ids = HashSet::new();
    let orders = [
        (
            "EURUSD_otc",
            "call",
            1.0,
            "0b7c1f7e-0000-4000-8000-00000000000a",
        ),
        (
            "GBPUSD_otc",
            "put",
            2.0,
            "0b7c1f7e-0000-4000-8000-00000000000b",
        ),
        (
            "ETHUSD_otc",
            "call",
            3.0,
            "0b7c1f7e-0000-4000-8000-00000000000c",
        ),
    ];
    let mut win_id = String::new();
    for (asset, action, amount, request_id) in orders {
        let before = unix_ms();
        c.emit("openOrder", order(asset, action, amount, request_id))
            .await;
        let payload = c.expect_event("successopenOrder").await;
        let after = unix_ms();
        seen.count("successopenOrder");
        let deal: WireDeal = decode("successopenOrder", &payload);
        check_deal("successopenOrder", &deal, false);
        assert_eq!(deal.request_id, request_id);
        // openTimestamp + openMs is the opening instant, to the millisecond.
        let opened_at = deal.open_timestamp * 1000 + i64::from(deal.open_ms);
        assert!(
            before <= opened_at && opened_at <= after,
            "opened at {opened_at}, between {before} and {after}?"
        );
        if asset == "EURUSD_otc" {
            win_id = deal.id.clone();
        }
        opened_ids.insert(deal.id);
    }
    c.emit(
        "openPendingOrder",
        json!({"openType":0,"amount":1.5,"asset":"USDJPY_otc","openTime":unix_ms() / 1000 + 1,
               "openPrice":0,"timeframe":5,"minPayout":0,"command":1}),
    )
    .await;
    let ticket = c.expect_event("successopenPendingOrder").await["ticket"]
        .as_str()
        .expect("ticket is a string")
        .to_owned();
    sim.pin_price("EURUSD_otc", 1.2).unwrap(); // the call wins
    sim.pin_price("GBPUSD_otc", 1.31).unwrap(); // the put loses; ETHUSD_otc draws

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut lists_settled = false;
    while !lists_settled {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = c.next_event_within(left).await else {
            panic!(
                "timed out: {} deals closed, frames {:?}",
                seen.closed.len(),
                seen.counts
            );
        };
        match event.name.as_str() {
            "successopenOrder" => {
                // The pending order's fill.
                seen.count("successopenOrder (pending fill)");
                let deal: WireDeal = decode("successopenOrder (pending fill)", &event.payload);
                check_deal("successopenOrder (pending fill)", &deal, false);
                assert_eq!(deal.request_id, ticket, "a fill carries its ticket");
                opened_ids.insert(deal.id);
            }
            "updateOpenedDeals" => {
                seen.count("updateOpenedDeals");
                let deals: Vec<WireDeal> = decode("updateOpenedDeals", &event.payload);
                for d in &deals {
                    check_deal("updateOpenedDeals", d, false);
                }
            }
            "updateClosedDeals" => {
                seen.count("updateClosedDeals");
                let deals: Vec<WireDeal> = decode("updateClosedDeals", &event.payload);
                for d in &deals {
                    check_deal("updateClosedDeals", d, true);
                }
                lists_settled = deals.len() == 4 && seen.closed.len() == 4;
            }
            "successcloseOrder" => {
                seen.count("successcloseOrder");
                let close: WireCloseOrder = decode("successcloseOrder", &event.payload);
                assert!(!close.deals.is_empty());
                let mut gross = 0;
                for d in &close.deals {
                    check_deal("successcloseOrder", d, true);
                    gross += cents(d.amount) + cents(d.profit);
                    seen.closed.insert(d.id.clone(), d.clone());
                }
                assert_eq!(
                    cents(close.profit),
                    gross,
                    "top-level profit is the gross return (stake + winnings)"
                );
                if close.deals.len() == 1 && close.deals[0].id == win_id {
                    // The captured real frame: one won deal of 1 at 92 %.
                    assert_eq!(close.deals[0].profit, 0.92);
                    assert_eq!(close.profit, 1.92);
                }
            }
            _ => {}
        }
    }
    assert_eq!(opened_ids.len(), 4, "three orders and one pending fill");
    assert_eq!(
        seen.closed.keys().collect::<HashSet<_>>(),
        opened_ids.iter().collect::<HashSet<_>>()
    );
    let by_amount = |a: f64| {
        seen.closed
            .values()
            .find(|d| d.amount == a)
            .unwrap_or_else(|| panic!("no closed deal of {a}"))
            .profit
    };
    assert_eq!(by_amount(1.0), 0.92, "win");
    assert_eq!(by_amount(2.0), -2.0, "loss");
    assert_eq!(by_amount(3.0), 0.0, "draw");
    for frame in [
        "successopenOrder",
        "successopenOrder (pending fill)",
        "updateOpenedDeals",
        "updateClosedDeals",
        "successcloseOrder",
    ] {
        assert!(seen.counts.get(frame).is_some_and(|n| *n > 0), "no {frame}");
    }
    stop(sim).await;
}

#[tokio::test]
async fn every_two_step_deal_frame_decodes_into_the_types_other_clients_use() {
    every_deal_frame_decodes(Delivery::TwoStep).await;
}

#[tokio::test]
async fn every_one_step_deal_frame_decodes_into_the_types_other_clients_use() {
    every_deal_frame_decodes(Delivery::OneStep).await;
}

#[tokio::test]
async fn bare_array_close_order_carries_the_same_deals() {
    let sim = start(
        Simulator::builder()
            .with_tick_interval(Duration::from_millis(50))
            .with_time_scale(5.0)
            .with_close_order_form(CloseOrderForm::BareArray),
    )
    .await;
    let mut c = Client::login(&sim.url(), &demo_auth("t", UID)).await;
    sim.pin_price("EURUSD_otc", 1.1).unwrap();
    c.emit(
        "openOrder",
        order(
            "EURUSD_otc",
            "call",
            1.0,
            "0b7c1f7e-0000-4000-8000-0000000000ff",
        ),
    )
    .await;
    let opened: WireDeal = decode(
        "successopenOrder",
        &c.expect_event("successopenOrder").await,
    );
    sim.pin_price("EURUSD_otc", 1.2).unwrap();
    let payload = c.expect_event("successcloseOrder").await;
    assert!(payload.is_array(), "a bare array: {payload}");
    let deals: Vec<WireDeal> = decode("successcloseOrder (bare array)", &payload);
    assert_eq!(deals.len(), 1);
    check_deal("successcloseOrder (bare array)", &deals[0], true);
    assert_eq!(deals[0].id, opened.id);
    assert_eq!(deals[0].profit, 0.92);
    stop(sim).await;
}
