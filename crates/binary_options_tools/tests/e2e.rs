//! The PocketOption client end to end against the simulator, over loopback.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::{ASSET, WAIT, fast_client, fast_sim, within};

use std::time::Duration;

use binary_options_tools::{
    Action, Decimal, Error, Matcher, Outcome, PocketOption, Ssid, SubscriptionKind,
};
use core_pre::{ConnectionState, CoreError};
use futures::StreamExt;
use pocketoption_sim::{AuthPolicy, Delivery, Simulator};

const UID: u64 = 4242;

fn builder(sim: &Simulator) -> binary_options_tools::PocketOptionBuilder {
    fast_client(sim, "e2e-session", UID)
}

async fn start() -> (Simulator, PocketOption) {
    let sim = fast_sim(11).start().await.unwrap();
    let client = within("connect", builder(&sim).connect()).await.unwrap();
    (sim, client)
}

async fn next_candle(
    stream: &mut binary_options_tools::SubscriptionStream,
) -> binary_options_tools::Candle {
    within("a candle", stream.next())
        .await
        .expect("stream ended")
}

#[tokio::test]
async fn connects_and_reads_balance_assets_and_payouts() {
    let (sim, client) = start().await;
    assert!(client.is_connected());
    assert!(client.is_demo());
    let expected = sim.account(UID).unwrap().demo_balance;
    assert_eq!(
        client.balance().await.unwrap(),
        Decimal::try_from(expected).unwrap()
    );
    let assets = client.assets().await.unwrap();
    assert_eq!(assets.len(), sim.assets().len());
    let eurusd = client.asset(ASSET).await.unwrap();
    assert!(eurusd.is_otc && eurusd.is_active);
    assert!(eurusd.allows_expiry(5));
    let spec = sim
        .assets()
        .into_iter()
        .find(|a| a.symbol == ASSET)
        .unwrap();
    assert_eq!(client.payout(ASSET).await.unwrap(), u32::from(spec.payout));
    let unknown = client.asset("eurusd").await.unwrap_err();
    assert!(matches!(unknown, Error::UnknownAsset { .. }), "{unknown}");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejected_session_fails_fast_with_an_authentication_error_and_is_not_retried() {
    let sim = fast_sim(11)
        .with_auth_policy(AuthPolicy::RejectAll)
        .start()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let error = within("the rejection", builder(&sim).connect())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Authentication { reason } if reason.contains("fresh SSID")),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "not a timeout");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.connections_accepted(),
        1,
        "a rejected session is not retried"
    );
}

#[tokio::test]
async fn streams_ticks_and_time_aligned_candles() {
    let (_sim, client) = start().await;
    let mut ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    let mut last = 0.0;
    for _ in 0..5 {
        let tick = next_candle(&mut ticks).await;
        assert_eq!(tick.ticks, 1);
        assert_eq!(tick.open, tick.close);
        assert!(tick.time > last, "ticks in order");
        last = tick.time;
    }
    let mut candles = client
        .subscribe(ASSET, SubscriptionKind::Candles(Duration::from_secs(1)))
        .await
        .unwrap();
    let first = next_candle(&mut candles).await;
    let second = next_candle(&mut candles).await;
    assert_eq!(second.time, first.time + 1.0, "consecutive aligned candles");
    assert_eq!(second.time.fract(), 0.0);
    assert!(
        second.ticks >= 10,
        "a full second of 50 ms ticks: {}",
        second.ticks
    );
    assert!(second.low <= second.open && second.open <= second.high);
    let mut chunks = client
        .subscribe(ASSET, SubscriptionKind::Chunks(3))
        .await
        .unwrap();
    assert_eq!(next_candle(&mut chunks).await.ticks, 3);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn streams_share_an_asset_and_dropping_one_keeps_the_others() {
    let (_sim, client) = start().await;
    let mut a = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    let b = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    next_candle(&mut a).await;
    drop(b);
    for _ in 0..3 {
        next_candle(&mut a).await;
    }
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fifth_asset_is_refused_and_the_four_keep_streaming() {
    let (sim, client) = start().await;
    let symbols: Vec<String> = sim.assets().into_iter().map(|a| a.symbol).take(5).collect();
    let mut streams = Vec::new();
    for symbol in &symbols[..4] {
        streams.push(
            client
                .subscribe(symbol, SubscriptionKind::Ticks)
                .await
                .unwrap(),
        );
    }
    let error = client
        .subscribe(&symbols[4], SubscriptionKind::Ticks)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::TooManySubscriptions { active, .. } if active.len() == 4),
        "{error}"
    );
    for stream in &mut streams {
        next_candle(stream).await;
    }
    // Free a slot (the second asset), take the fifth: all four live assets stream.
    streams.remove(1);
    streams.push(
        client
            .subscribe(&symbols[4], SubscriptionKind::Ticks)
            .await
            .unwrap(),
    );
    for stream in &mut streams {
        // Skip what was buffered before, then see fresh ticks.
        let now = client.server_time().unix();
        loop {
            if next_candle(stream).await.time > now {
                break;
            }
        }
    }
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn subscriptions_resume_after_a_drop_and_are_resent_exactly_once() {
    let (sim, client) = start().await;
    let other = sim.assets()[1].symbol.clone();
    let mut ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    let mut other_ticks = client
        .subscribe(&other, SubscriptionKind::Ticks)
        .await
        .unwrap();
    next_candle(&mut ticks).await;
    next_candle(&mut other_ticks).await;
    let sent = |sim: &Simulator| {
        (
            sim.events_received("changeSymbol"),
            sim.events_received("subfor"),
        )
    };
    assert_eq!(sent(&sim), (2, 2));

    // Watch before causing the change, so the short-lived states cannot slip by.
    let mut states = client.watch_connection_state();
    sim.drop_all_connections();
    within("the reconnect", async {
        let mut left = false;
        loop {
            states.changed().await.unwrap();
            match *states.borrow() {
                ConnectionState::Connected if left => break,
                ConnectionState::Connected => {}
                _ => left = true,
            }
        }
    })
    .await;
    let reconnected_at = client.server_time().unix();
    for stream in [&mut ticks, &mut other_ticks] {
        while next_candle(stream).await.time <= reconnected_at {}
    }
    assert_eq!(client.statistics().reconnects, 1);
    assert_eq!(
        sent(&sim),
        (4, 4),
        "each live asset re-subscribed exactly once"
    );
    client.shutdown().await.unwrap();
}

async fn settle(
    sim: &Simulator,
    client: &PocketOption,
    move_by: f64,
) -> binary_options_tools::DealResult {
    let price = sim.current_price(ASSET).unwrap();
    sim.pin_price(ASSET, price).unwrap();
    let deal = client
        .buy(ASSET, Decimal::from(10), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(deal.asset, ASSET);
    assert_eq!(deal.amount, Decimal::from(10));
    sim.pin_price(ASSET, price + move_by).unwrap();
    within("the result", client.result(&deal.id)).await.unwrap()
}

#[tokio::test]
async fn trades_settle_as_win_loss_and_draw_and_the_balance_follows() {
    let (sim, client) = start().await;
    let payout = Decimal::from(client.payout(ASSET).await.unwrap());
    let start_balance = client.balance().await.unwrap();

    let win = settle(&sim, &client, 0.01).await;
    assert_eq!(win.outcome, Outcome::Win);
    assert_eq!(win.profit, Decimal::from(10) * payout / Decimal::from(100));
    let loss = settle(&sim, &client, -0.01).await;
    assert_eq!(loss.outcome, Outcome::Loss);
    assert_eq!(loss.profit, Decimal::from(-10));
    let draw = settle(&sim, &client, 0.0).await;
    assert_eq!(draw.outcome, Outcome::Draw);
    assert_eq!(draw.profit, Decimal::ZERO);

    let expected = start_balance + win.profit + loss.profit;
    within("the final balance", async {
        while client.balance().await.unwrap() != expected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let closed = client.closed_deals();
    assert_eq!(closed.len(), 3, "each result recorded once");
    assert!(client.opened_deals().is_empty());
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_side_checks_refuse_bad_orders_without_a_round_trip() {
    let sim = fast_sim(11).with_demo_balance(100.0).start().await.unwrap();
    let client = within("connect", builder(&sim).connect()).await.unwrap();
    let ten = Decimal::from(10);
    let five = Duration::from_secs(5);
    let err = |r: Result<binary_options_tools::Deal, Error>| r.unwrap_err();
    assert!(matches!(
        err(client.buy("NOPE", ten, five).await),
        Error::UnknownAsset { .. }
    ));
    assert!(matches!(
        err(client.buy(ASSET, ten, Duration::from_secs(7)).await),
        Error::ExpiryNotAllowed { .. }
    ));
    assert!(matches!(
        err(client.buy(ASSET, Decimal::new(5, 1), five).await),
        Error::InvalidAmount { .. }
    ));
    assert!(matches!(
        err(client.buy(ASSET, Decimal::from(101), five).await),
        Error::InsufficientBalance { .. }
    ));
    assert!(sim.open_deals().is_empty(), "nothing reached the platform");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_platforms_refusal_is_reported_with_its_reason() {
    let (sim, client) = start().await;
    client.assets().await.unwrap();
    // The client still believes the asset is open; the platform does not.
    sim.set_asset_active(ASSET, false).unwrap();
    let error = client
        .buy(ASSET, Decimal::from(3), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::OrderRejected { asset, .. } if asset == ASSET),
        "{error}"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn of_two_identical_concurrent_orders_one_opens_and_one_fails() {
    let sim = fast_sim(11).with_max_open_deals(1).start().await.unwrap();
    let client = within("connect", builder(&sim).connect()).await.unwrap();
    let order = || client.buy(ASSET, Decimal::from(2), Duration::from_secs(60));
    let (a, b) = within("both orders", async { tokio::join!(order(), order()) }).await;
    let (ok, failed): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
    assert_eq!((ok.len(), failed.len()), (1, 1), "exactly one each");
    assert!(
        matches!(&failed[0], Err(Error::OrderRejected { .. })),
        "{:?}",
        failed[0]
    );
    assert_eq!(sim.open_deals().len(), 1);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_order_whose_reply_is_lost_in_a_drop_is_found_in_the_deal_lists() {
    let (sim, client) = start().await;
    sim.set_reply_delay(Duration::from_secs(2));
    let trade = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .buy(ASSET, Decimal::from(4), Duration::from_secs(60))
                .await
        })
    };
    within("the order to reach the platform", async {
        while sim.open_deals().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    sim.set_reply_delay(Duration::ZERO);
    sim.drop_all_connections();
    let deal = within("the recovered deal", trade).await.unwrap().unwrap();
    assert_eq!(
        deal.id.as_str(),
        sim.open_deals()[0].id,
        "the very deal, not a new one"
    );
    assert_eq!(sim.open_deals().len(), 1, "never sent twice");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn calls_time_out_with_typed_errors_when_the_server_goes_silent() {
    let (sim, client) = start().await;
    client.assets().await.unwrap();
    sim.set_silent(true);
    let started = std::time::Instant::now();
    let history = client
        .candles(ASSET, Duration::from_secs(60), 10)
        .await
        .unwrap_err();
    assert!(
        matches!(history, Error::Core(CoreError::Timeout { .. })),
        "{history}"
    );
    let raw = client
        .raw()
        .send_and_wait(
            r#"42["getBalance"]"#,
            Matcher::event("successupdateBalance"),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(raw, Error::Timeout { .. }), "{raw}");
    let trade = client
        .buy(ASSET, Decimal::from(1), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(trade, Error::OrderOutcomeUnknown { .. }),
        "{trade}"
    );
    assert!(started.elapsed() < Duration::from_secs(12), "bounded waits");
    sim.set_silent(false);
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn history_pages_are_correlated_by_index() {
    let (sim, client) = start().await;
    let other = sim.assets()[1].symbol.clone();
    let (a, b) = within("two pages", async {
        tokio::join!(
            client.candles(ASSET, Duration::from_secs(60), 10),
            client.candles(&other, Duration::from_secs(5), 20)
        )
    })
    .await;
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len(), 10, "exactly the count asked for");
    assert!(a.iter().all(|c| &*c.asset == ASSET && c.time % 60.0 == 0.0));
    assert_eq!(b.len(), 20, "exactly the count asked for");
    assert!(b.iter().all(|c| *c.asset == *other && c.time % 5.0 == 0.0));
    let now = client.server_time().unix();
    assert!(now - a.last().unwrap().time < 120.0, "ends near now");
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn raw_access_sends_waits_and_streams() {
    let (_sim, client) = start().await;
    let reply = client
        .raw()
        .send_and_wait(
            r#"42["getBalance"]"#,
            Matcher::event("successupdateBalance"),
            WAIT,
        )
        .await
        .unwrap();
    assert!(
        reply.starts_with(r#"42["successupdateBalance","#) && reply.contains("balance"),
        "{reply}"
    );
    let mut frames = client
        .raw()
        .stream(Matcher::event("updateStream").and(Matcher::contains(ASSET)));
    let _ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    let frame = within("a raw tick frame", frames.next()).await.unwrap();
    assert!(
        frame.starts_with(r#"42["updateStream",[["#),
        "two-step frames arrive normalized: {frame}"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_time_follows_ticks_with_sub_second_precision() {
    let (_sim, client) = start().await;
    assert!(client.server_time().stale, "no sample yet");
    let mut ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    for _ in 0..10 {
        next_candle(&mut ticks).await;
    }
    let time = client.server_time();
    assert!(!time.stale);
    // The simulator's clock is this machine's: the estimate is within the tick interval.
    assert!(time.offset.abs() < 0.25, "{time:?}");
    assert!(
        time.unix().fract() != 0.0 || time.offset != 0.0,
        "sub-second values"
    );
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_step_delivery_works_like_two_step() {
    let sim = fast_sim(11)
        .with_delivery(Delivery::OneStep)
        .start()
        .await
        .unwrap();
    let client = within("connect", builder(&sim).connect()).await.unwrap();
    assert!(client.balance().await.unwrap() > Decimal::ZERO);
    let mut ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    next_candle(&mut ticks).await;
    let deal = client
        .sell(ASSET, Decimal::from(1), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(deal.action, Action::Put);
    within("the result", client.result(&deal.id)).await.unwrap();
    client.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_streams_and_every_call_reports_client_closed() {
    let (_sim, client) = start().await;
    let mut ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    next_candle(&mut ticks).await;
    client.shutdown().await.unwrap();
    within("the stream to end", async {
        while ticks.next().await.is_some() {}
    })
    .await;
    let closed = |e: Error| e.is_client_closed();
    assert!(closed(client.balance().await.unwrap_err()));
    assert!(closed(
        client
            .subscribe(ASSET, SubscriptionKind::Ticks)
            .await
            .unwrap_err()
    ));
    assert!(closed(
        client
            .buy(ASSET, Decimal::ONE, Duration::from_secs(5))
            .await
            .unwrap_err()
    ));
    assert!(closed(
        client
            .candles(ASSET, Duration::from_secs(60), 5)
            .await
            .unwrap_err()
    ));
    assert!(closed(client.result(&"x".into()).await.unwrap_err()));
    assert!(closed(client.raw().send("42[\"ps\"]").await.unwrap_err()));
    assert!(closed(client.shutdown().await.unwrap_err()));
    assert_eq!(client.connection_state(), ConnectionState::Closed);
}

#[tokio::test]
async fn answers_engine_io_pings_from_the_first_frame_even_with_short_intervals() {
    let sim = fast_sim(11)
        .with_ping_interval(Duration::from_millis(100))
        .with_ping_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let client = within("connect", builder(&sim).connect()).await.unwrap();
    let _ticks = client
        .subscribe(ASSET, SubscriptionKind::Ticks)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(client.is_connected());
    assert_eq!(
        client.statistics().reconnects,
        0,
        "never dropped for a missed pong"
    );
    assert_eq!(sim.connections_accepted(), 1);
    client.shutdown().await.unwrap();
}

fn real_ssid(user_agent: &str) -> Ssid {
    let session = binary_options_tools::RealSession::new(
        "0123456789abcdef0123456789abcdef",
        "127.0.0.1",
        user_agent,
        1_700_000_000,
        "fedcba9876543210fedcba9876543210",
    );
    Ssid::real(session, 99)
}

#[tokio::test]
async fn a_real_session_is_sent_with_the_user_agent_it_was_issued_for() {
    let sim = fast_sim(11)
        .with_user_agent_check(true)
        .start()
        .await
        .unwrap();
    let ssid = real_ssid("Mozilla/5.0 (TestBrowser 1.0)");
    let client = PocketOption::builder(ssid)
        .with_url(sim.url())
        .only_given_urls()
        .connect();
    let client = within("connect", client).await.unwrap();
    assert!(!client.is_demo());
    let real = sim.account(99).unwrap().real_balance;
    assert_eq!(
        client.balance().await.unwrap(),
        Decimal::try_from(real).unwrap()
    );
    client.shutdown().await.unwrap();

    // Overriding the user agent with another one gets the session rejected, as on the
    // platform: reported as an authentication error, promptly.
    let mismatched = PocketOption::builder(real_ssid("Mozilla/5.0 (TestBrowser 1.0)"))
        .with_url(sim.url())
        .only_given_urls()
        .with_user_agent("curl/8")
        .connect();
    let error = within("the rejection", mismatched).await.unwrap_err();
    assert!(matches!(error, Error::Authentication { .. }), "{error}");
}
