//! What a trader hits first, end to end against the simulator over loopback: the balance
//! agreeing with results at once, pending orders, tick history, candles up to a given
//! time, `Matcher::ends_with`, and forgetting processed deals.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::{ASSET, WAIT, fast_client, fast_sim, within};

use std::time::{Duration, UNIX_EPOCH};

use binary_options_tools::{
    Action, DealId, DealResult, Decimal, Error, Matcher, Outcome, PendingOrderRequest,
    PendingTrigger, PocketOption, SubscriptionKind, compile_candles,
};
use futures::StreamExt;
use pocketoption_sim::{BalanceReport, Delivery, HistoryItems, Simulator, SimulatorBuilder};

const UID: u64 = 5151;
const FIVE: Duration = Duration::from_secs(5);

async fn connect(sim: &Simulator) -> PocketOption {
    let client = fast_client(sim, "trader-session", UID).connect();
    within("connect", client).await.unwrap()
}

async fn start(builder: SimulatorBuilder) -> (Simulator, PocketOption) {
    let sim = builder.start().await.unwrap();
    let client = connect(&sim).await;
    (sim, client)
}

/// The account's demo balance on the simulator, exactly.
fn sim_balance(sim: &Simulator) -> Decimal {
    let balance = sim.account(UID).unwrap().demo_balance;
    Decimal::try_from(balance).unwrap().round_dp(2)
}

/// Opens a call of `amount`, checks the stake is off the balance at once, moves the price
/// by `move_by` and returns the result, checking the balance after it at once.
async fn trade_and_check(
    sim: &Simulator,
    client: &PocketOption,
    amount: Decimal,
    move_by: f64,
) -> DealResult {
    let before = client.balance().await.unwrap();
    let price = sim.current_price(ASSET).unwrap();
    sim.pin_price(ASSET, price).unwrap();
    let deal = client.buy(ASSET, amount, FIVE).await.unwrap();
    assert_eq!(
        client.balance().await.unwrap(),
        before - amount,
        "the stake is deducted when buy returns"
    );
    sim.pin_price(ASSET, price + move_by).unwrap();
    let result = within("the result", client.result(&deal.id)).await.unwrap();
    // Read at once, with no wait or retry: the result and the balance agree.
    let after = client.balance().await.unwrap();
    assert_eq!(
        after,
        before + result.profit,
        "balance right after the result"
    );
    assert_eq!(
        result.balance,
        Some(after),
        "the result carries the balance"
    );
    assert_eq!(after, sim_balance(sim), "the platform's own books agree");
    result
}

async fn results_and_balance_agree(
    sim: SimulatorBuilder,
    delivery: Delivery,
    report: BalanceReport,
) {
    let (sim, client) = start(sim.with_delivery(delivery)).await;
    sim.set_balance_report(report);
    let payout = Decimal::from(client.payout(ASSET).await.unwrap());
    let start_balance = client.balance().await.unwrap();
    let amount = Decimal::from(10);

    let win = trade_and_check(&sim, &client, amount, 0.01).await;
    assert_eq!(win.outcome, Outcome::Win);
    assert_eq!(win.profit, amount * payout / Decimal::from(100));
    let loss = trade_and_check(&sim, &client, amount, -0.01).await;
    assert_eq!(loss.outcome, Outcome::Loss);
    assert_eq!(loss.profit, -amount);
    let draw = trade_and_check(&sim, &client, amount, 0.0).await;
    assert_eq!(draw.outcome, Outcome::Draw);
    assert_eq!(draw.profit, Decimal::ZERO);

    // 50 000 + 9.20 − 10 + 0, exactly.
    assert_eq!(
        client.balance().await.unwrap(),
        start_balance + win.profit - amount
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn results_and_the_balance_agree_at_once_with_two_step_delivery() {
    results_and_balance_agree(fast_sim(23), Delivery::TwoStep, BalanceReport::AfterDeal).await;
}

#[tokio::test]
async fn results_and_the_balance_agree_at_once_with_one_step_delivery() {
    results_and_balance_agree(fast_sim(23), Delivery::OneStep, BalanceReport::AfterDeal).await;
}

#[tokio::test]
async fn results_wait_for_a_balance_report_that_lags_behind_the_deal() {
    let lag = BalanceReport::Delayed(Duration::from_millis(300));
    results_and_balance_agree(fast_sim(23), Delivery::TwoStep, lag).await;
}

#[tokio::test]
async fn results_ask_for_the_balance_when_the_platform_reported_it_before_the_deal() {
    // The client asks after waiting a second for a report that never follows: deals
    // last 2.5 s here, so that `buy` returns before its deal closes.
    let slower = fast_sim(23).with_time_scale(2.0);
    results_and_balance_agree(slower, Delivery::OneStep, BalanceReport::BeforeDeal).await;
}

fn in_secs(client: &PocketOption, secs: u64) -> PendingTrigger {
    PendingTrigger::AtTime(client.server_time().now + Duration::from_secs(secs))
}

#[tokio::test]
async fn a_pending_order_at_a_time_opens_a_deal_that_settles_like_any_other() {
    let (sim, client) = start(fast_sim(23)).await;
    let amount = Decimal::from(4);
    let trigger = in_secs(&client, 2);
    let PendingTrigger::AtTime(at) = trigger else {
        unreachable!()
    };
    let request = PendingOrderRequest::new(ASSET, Action::Call, amount, FIVE, trigger);
    let order = within("the ticket", client.open_pending(&request))
        .await
        .unwrap();
    assert!(!order.ticket.is_empty());
    assert_eq!((order.amount, order.trigger), (amount, trigger));
    assert_eq!(client.pending_orders(), std::slice::from_ref(&order));
    let on_platform = sim.pending_orders();
    assert_eq!(on_platform.len(), 1);
    assert_eq!(on_platform[0].ticket, order.ticket);

    let balance = client.balance().await.unwrap();
    let price = sim.current_price(ASSET).unwrap();
    sim.pin_price(ASSET, price).unwrap();
    let deal = client.pending_fill(&order.ticket, WAIT).await.unwrap();
    assert_eq!(deal.request_id.as_deref(), Some(order.ticket.as_str()));
    assert_eq!((deal.asset.as_str(), deal.amount), (ASSET, amount));
    assert!(
        deal.opened_at.duration_since(UNIX_EPOCH).unwrap().as_secs()
            >= at.duration_since(UNIX_EPOCH).unwrap().as_secs(),
        "opened at its time, not before"
    );
    assert!(
        client.pending_orders().is_empty(),
        "filled, no longer pending"
    );
    assert!(sim.pending_orders().is_empty());

    sim.pin_price(ASSET, price + 0.01).unwrap();
    let result = within("the fill's result", client.result(&deal.id))
        .await
        .unwrap();
    assert_eq!(result.outcome, Outcome::Win);
    let after = client.balance().await.unwrap();
    assert_eq!(after, balance + result.profit);
    assert_eq!(after, sim_balance(&sim));
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pending_order_at_a_price_fills_when_the_price_gets_there() {
    let (sim, client) = start(fast_sim(23).with_delivery(Delivery::OneStep)).await;
    let price = sim.current_price(ASSET).unwrap();
    sim.pin_price(ASSET, price).unwrap();
    let target = price + 0.001;
    let request = PendingOrderRequest::new(
        ASSET,
        Action::Put,
        Decimal::from(3),
        FIVE,
        PendingTrigger::AtPrice(target),
    )
    .with_min_payout(50);
    let order = within("the ticket", client.open_pending(&request))
        .await
        .unwrap();
    // Not there yet: nothing opens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sim.open_deals().is_empty());
    assert_eq!(client.pending_orders().len(), 1);

    sim.pin_price(ASSET, target + 0.001).unwrap();
    let deal = client.pending_fill(&order.ticket, WAIT).await.unwrap();
    assert_eq!(deal.open_price, target + 0.001);
    assert_eq!(deal.action, Action::Put);
    sim.pin_price(ASSET, target).unwrap();
    let result = within("the result", client.result(&deal.id)).await.unwrap();
    assert_eq!(result.outcome, Outcome::Win, "a put, and the price fell");
    assert_eq!(client.balance().await.unwrap(), sim_balance(&sim));
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn pending_orders_cancel_one_or_several_and_bad_ones_never_leave() {
    let (sim, client) = start(fast_sim(23)).await;
    let later = || {
        PendingOrderRequest::new(
            ASSET,
            Action::Call,
            Decimal::ONE,
            Duration::from_secs(60),
            in_secs(&client, 3600),
        )
    };
    let mut tickets = Vec::new();
    for _ in 0..3 {
        tickets.push(client.open_pending(&later()).await.unwrap().ticket);
    }
    assert_eq!(sim.pending_orders().len(), 3);
    assert_eq!(client.pending_orders().len(), 3);

    client.cancel_pending(&tickets[0]).await.unwrap();
    assert_eq!(sim.pending_orders().len(), 2);
    let again = client.cancel_pending(&tickets[0]).await.unwrap_err();
    assert!(
        matches!(&again, Error::PendingCancelRejected { ticket, .. } if *ticket == tickets[0]),
        "{again}"
    );
    let asked = vec![
        tickets[1].clone(),
        "no-such-ticket".to_owned(),
        tickets[2].clone(),
    ];
    let mut cancelled = client.cancel_pending_orders(&asked).await.unwrap();
    cancelled.sort();
    let mut expected = tickets[1..].to_vec();
    expected.sort();
    assert_eq!(cancelled, expected);
    assert!(sim.pending_orders().is_empty());
    assert!(client.pending_orders().is_empty());

    // Checked before sending, like market orders.
    let sent = sim.events_received("openPendingOrder");
    let past = PendingOrderRequest {
        trigger: PendingTrigger::AtTime(client.server_time().now - Duration::from_secs(5)),
        ..later()
    };
    let error = client.open_pending(&past).await.unwrap_err();
    assert!(
        matches!(error, Error::InvalidPendingOrder { .. }),
        "{error}"
    );
    let negative = PendingOrderRequest {
        trigger: PendingTrigger::AtPrice(-1.0),
        ..later()
    };
    let error = client.open_pending(&negative).await.unwrap_err();
    assert!(
        matches!(error, Error::InvalidPendingOrder { .. }),
        "{error}"
    );
    let unknown = PendingOrderRequest {
        asset: "NOPE".into(),
        ..later()
    };
    let error = client.open_pending(&unknown).await.unwrap_err();
    assert!(matches!(error, Error::UnknownAsset { .. }), "{error}");
    let odd_expiry = PendingOrderRequest {
        expiry: Duration::from_secs(7),
        ..later()
    };
    let error = client.open_pending(&odd_expiry).await.unwrap_err();
    assert!(matches!(error, Error::ExpiryNotAllowed { .. }), "{error}");
    let too_much = PendingOrderRequest {
        amount: client.balance().await.unwrap() + Decimal::ONE,
        ..later()
    };
    let error = client.open_pending(&too_much).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::InsufficientBalance { .. } | Error::InvalidAmount { .. }
        ),
        "{error}"
    );
    assert_eq!(
        sim.events_received("openPendingOrder"),
        sent,
        "none was sent"
    );

    // The platform's own refusal comes back with its reason.
    let greedy = later().with_min_payout(101);
    let error = client.open_pending(&greedy).await.unwrap_err();
    assert!(
        matches!(&error, Error::OrderRejected { reason, .. } if reason == "MIN_PAYOUT"),
        "{error}"
    );
    assert!(client.pending_orders().is_empty());
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn tick_history_comes_from_price_items_and_compiles_into_candles() {
    let (sim, client) = start(fast_sim(23).with_history_items(HistoryItems::Prices)).await;
    let ticks = within("30 ticks", client.ticks(ASSET, 30)).await.unwrap();
    assert_eq!(ticks.len(), 30);
    for pair in ticks.windows(2) {
        assert!(pair[0].time < pair[1].time, "oldest first, no duplicates");
    }
    for tick in &ticks {
        assert_eq!(&*tick.asset, ASSET);
        let at_ms = (tick.time * 1000.0).round() as i64;
        assert_eq!(tick.price, sim.price_at(ASSET, at_ms).unwrap());
    }
    let now = client.server_time().unix();
    assert!(now - ticks.last().unwrap().time < 2.0, "ends now");

    let span = within(
        "20 s of ticks",
        client.ticks(ASSET, Duration::from_secs(20)),
    )
    .await
    .unwrap();
    assert!(span.len() >= 20, "{}", span.len());
    let end = client.server_time().unix();
    assert!(span.iter().all(|t| t.time >= end - 22.0 && t.time <= end));

    let candles = compile_candles(
        ticks.iter().cloned(),
        SubscriptionKind::Candles(Duration::from_secs(5)),
    )
    .unwrap();
    assert_eq!(
        candles.iter().map(|c| c.ticks as usize).sum::<usize>(),
        ticks.len()
    );
    for candle in &candles {
        let inside: Vec<_> = ticks
            .iter()
            .filter(|t| t.time >= candle.time && t.time < candle.time + 5.0)
            .collect();
        assert_eq!(candle.time % 5.0, 0.0);
        assert_eq!(candle.open, inside[0].price);
        assert_eq!(candle.close, inside[inside.len() - 1].price);
        let high = inside.iter().map(|t| t.price).fold(f64::MIN, f64::max);
        assert_eq!(candle.high, high);
    }

    let error = client.ticks(ASSET, 0).await.unwrap_err();
    assert!(
        matches!(error, Error::InvalidHistoryRequest { .. }),
        "{error}"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn tick_history_says_so_when_the_platform_answers_with_candles() {
    let (_sim, client) = start(fast_sim(23).with_history_items(HistoryItems::Candles)).await;
    let error = client.ticks(ASSET, 10).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidHistoryRequest { reason } if reason.contains("candles")),
        "{error}"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn candles_end_at_the_time_asked_for() {
    let (_sim, client) = start(fast_sim(23)).await;
    let end_secs = client.server_time().unix() as u64 - 3_600;
    let end = UNIX_EPOCH + Duration::from_secs(end_secs);
    let candles = within(
        "an hour-old page",
        client.candles_until(ASSET, Duration::from_secs(60), 5, end),
    )
    .await
    .unwrap();
    let last_start = (end_secs / 60 * 60) as f64;
    assert_eq!(candles.last().unwrap().time, last_start);
    assert_eq!(candles.len(), 5, "exactly the count asked for");
    assert_eq!(candles.first().unwrap().time, last_start - 240.0);
    assert!(candles.iter().all(|c| &*c.asset == ASSET));
    let error = client
        .candles_until(ASSET, Duration::from_secs(60), 5, UNIX_EPOCH)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidHistoryRequest { .. }),
        "{error}"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn raw_matchers_match_the_end_of_a_frame() {
    let (_sim, client) = start(fast_sim(23)).await;
    let reply = client
        .raw()
        .send_and_wait(
            r#"42["getBalance"]"#,
            Matcher::event("successupdateBalance").and(Matcher::ends_with("}]")),
            WAIT,
        )
        .await
        .unwrap();
    assert!(reply.ends_with("}]"), "{reply}");
    let mut ticks = client.raw().stream(
        Matcher::event("updateStream")
            .and(Matcher::ends_with("]]]"))
            .and(Matcher::contains(ASSET)),
    );
    let _stream = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    let frame = within("a tick frame", ticks.next()).await.unwrap();
    assert!(frame.starts_with(r#"42["updateStream""#), "{frame}");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn processed_deals_can_be_forgotten_and_do_not_come_back() {
    let (sim, client) = start(fast_sim(23)).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let deal = client.buy(ASSET, Decimal::ONE, FIVE).await.unwrap();
        within("a result", client.result(&deal.id)).await.unwrap();
        ids.push(deal.id);
    }
    let taken = client.take_closed();
    assert_eq!(
        taken.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids,
        "oldest first"
    );
    assert!(client.closed_deals().is_empty());
    assert!(client.take_closed().is_empty(), "each deal taken once");

    // The platform keeps listing recent closed deals (after each trade): they stay gone.
    let third = client.buy(ASSET, Decimal::ONE, FIVE).await.unwrap();
    within("a result", client.result(&third.id)).await.unwrap();
    assert!(sim.closed_deals().len() >= 3);
    // Let the closed-deal list that follows the balance arrive too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let closed: Vec<DealId> = client.closed_deals().into_iter().map(|d| d.id).collect();
    assert_eq!(closed, std::slice::from_ref(&third.id));
    assert_eq!(
        client.forget_closed([third.id.clone(), DealId::from("unknown")]),
        1
    );
    assert!(client.closed_deals().is_empty());
    client.shutdown().await.unwrap();
}
