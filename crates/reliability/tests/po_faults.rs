//! Fault injection against the PocketOption client: the simulator behind a fault proxy,
//! over loopback. Every scenario checks what the client promises: no panic (no module
//! failure), no hung call (each returns within its timeout, with a typed error), no lost
//! subscription (ticks resume after the fault), no trade result lost or duplicated,
//! reconnect delays that grow with jitter up to the cap, and a clean shutdown.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use binary_options_tools::{DealId, Decimal, Error, Matcher, SubscriptionKind};
use client_ws::WsConfig;
use core_pre::{ConnectionState, CoreError, ReconnectPolicy, TransportErrorKind};
use futures::StreamExt;
use pocketoption_sim::MalformedFrame;
use reliability::{Corruption, binary_frame_header};
use support::*;

/// A deal that stays open for a while: 15 s of platform time, 750 ms at 20× scale.
const LONG: Duration = Duration::from_secs(15);
/// A deal that closes fast: 5 s of platform time, 250 ms at 20× scale.
const SHORT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn abrupt_cuts_lose_no_subscription_and_each_is_followed_by_a_reconnect() {
    let rig = PoRig::start().await;
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    let before = fresh_ticks(&mut ticks, 0.0, 3).await;
    assert_eq!(before, 0);
    for round in 1..=3 {
        assert_eq!(rig.proxy.cut_all(), 1, "one connection to cut");
        rig.reconnected(round).await;
        let reconnected_at = rig.client.server_time().unix();
        // Delivery resumed: ticks stamped after the reconnect arrive on the same stream.
        fresh_ticks(&mut ticks, reconnected_at, 3).await;
    }
    let stats = rig.client.statistics();
    assert_eq!(stats.reconnects, 3);
    assert_eq!(rig.proxy.stats().cut, 3);
    assert_eq!(rig.proxy.stats().accepted, 4);
    assert_eq!(ticks.dropped(), 0, "a reader that keeps up loses nothing");
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn trades_placed_across_cuts_each_get_exactly_one_result() {
    let rig = PoRig::start().await;
    let mut deals = Vec::new();
    for n in 0..6u64 {
        let deal = within("an order", rig.client.buy(ASSET, Decimal::ONE, SHORT))
            .await
            .unwrap();
        deals.push(deal);
        if n % 2 == 0 {
            // The deal settles while the client is cut off, or just after: its result
            // must come through the platform's lists on the next connection.
            rig.proxy.cut_all();
            rig.reconnected(n / 2 + 1).await;
        }
    }
    let mut results = Vec::new();
    for deal in &deals {
        let result = within("a result", rig.client.result(&deal.id))
            .await
            .unwrap_or_else(|e| panic!("the result of {} is not lost: {e}", deal.id));
        results.push(result.deal.id);
    }
    let distinct: HashSet<&DealId> = results.iter().collect();
    assert_eq!(distinct.len(), deals.len(), "one result per trade");
    let on_platform: HashSet<DealId> = rig
        .sim
        .closed_deals()
        .into_iter()
        .filter(|d| d.uid == UID)
        .map(|d| DealId::from(d.id))
        .collect();
    let received: HashSet<DealId> = results.into_iter().collect();
    assert_eq!(
        received, on_platform,
        "the results are the platform's deals"
    );
    assert!(rig.sim.open_deals().is_empty());
    let known: Vec<DealId> = rig
        .client
        .closed_deals()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        known.len(),
        deals.len(),
        "each deal recorded once: {known:?}"
    );
    rig.shut_down_cleanly(vec![]).await;
}

#[tokio::test]
async fn an_order_whose_reply_is_cut_off_is_found_in_the_deal_lists_not_sent_again() {
    let rig = PoRig::start().await;
    within("assets", rig.client.assets()).await.unwrap();
    rig.sim.set_reply_delay(Duration::from_secs(1));
    let order = tokio::spawn({
        let client = rig.client.clone();
        async move { client.buy(ASSET, Decimal::from(3), LONG).await }
    });
    let sim = &rig.sim;
    until("the platform to open the deal", || {
        !sim.open_deals().is_empty()
    })
    .await;
    rig.sim.set_reply_delay(Duration::ZERO);
    rig.proxy.cut_all();
    let deal = within("the order", order).await.unwrap().unwrap();
    let opened = rig.sim.open_deals();
    assert_eq!(opened.len(), 1, "never sent twice");
    assert_eq!(
        deal.id.as_str(),
        opened[0].id,
        "the very deal the platform opened"
    );
    let result = within("its result", rig.client.result(&deal.id))
        .await
        .unwrap();
    assert_eq!(result.deal.id, deal.id);
    assert_eq!(rig.sim.closed_deals().len(), 1);
    rig.shut_down_cleanly(vec![]).await;
}

#[tokio::test]
async fn an_order_lost_on_the_way_is_reported_unknown_and_never_executed_later() {
    let rig = PoRig::start().await;
    within("assets", rig.client.assets()).await.unwrap();
    let written = rig.client.statistics().messages_out;
    rig.proxy.set_stalled(true);
    let order = tokio::spawn({
        let client = rig.client.clone();
        async move { client.buy(ASSET, Decimal::from(2), SHORT).await }
    });
    let client = &rig.client;
    until("the order to be written", || {
        client.statistics().messages_out > written
    })
    .await;
    // The order sits in the stalled proxy; the reset throws it away.
    rig.proxy.cut_all();
    rig.proxy.set_stalled(false);
    let started = Instant::now();
    let outcome = within("the order's outcome", order).await.unwrap();
    let request_id = match outcome {
        Err(Error::OrderOutcomeUnknown { request_id, .. }) => request_id,
        other => panic!("expected an unknown outcome, got {other:?}"),
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "told within the order's timeouts"
    );
    // The next order goes through on the new connection; the lost one never does.
    let next = within("another order", rig.client.buy(ASSET, Decimal::ONE, SHORT))
        .await
        .unwrap();
    let deals: Vec<_> = rig
        .sim
        .open_deals()
        .into_iter()
        .chain(rig.sim.closed_deals())
        .collect();
    assert_eq!(deals.len(), 1, "only the second order reached the platform");
    assert_eq!(deals[0].id, next.id.as_str());
    assert_ne!(
        deals[0].request_id.to_string().trim_matches('"'),
        request_id
    );
    assert_eq!(rig.client.deals().book().find_by_request(&request_id), None);
    rig.shut_down_cleanly(vec![]).await;
}

#[tokio::test]
async fn an_order_held_up_past_its_timeout_is_reported_unknown_and_its_late_result_still_arrives() {
    let rig = PoRig::start().await;
    within("assets", rig.client.assets()).await.unwrap();
    // The link stalls with the order on it (the server's ping window is long: nobody
    // notices a dead link in the meantime).
    rig.proxy.set_stalled(true);
    let started = Instant::now();
    let outcome = within("the order", rig.client.buy(ASSET, Decimal::from(2), SHORT)).await;
    let request_id = match outcome {
        Err(Error::OrderOutcomeUnknown { request_id, .. }) => request_id,
        other => panic!("expected an unknown outcome, got {other:?}"),
    };
    // Request timeout 2 s, then up to 2 s looking for it in the deal lists.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(
        rig.sim.open_deals().is_empty(),
        "nothing reached the platform yet"
    );
    // The link recovers and delivers the order late: the platform executes it once, and
    // the caller, told the outcome was unknown, finds it by its request id.
    rig.proxy.set_stalled(false);
    let book = rig.client.deals().book();
    until("the late deal to reach the client's books", || {
        book.find_by_request(&request_id)
            .is_some_and(|deal| deal.is_closed())
    })
    .await;
    let executed: Vec<_> = rig
        .sim
        .closed_deals()
        .into_iter()
        .filter(|d| d.request_id.to_string().trim_matches('"') == request_id)
        .collect();
    assert_eq!(executed.len(), 1, "executed once");
    assert_eq!(
        book.find_by_request(&request_id).map(|d| d.id),
        Some(DealId::from(executed[0].id.clone()))
    );
    assert_eq!(rig.client.statistics().reconnects, 0);
    rig.shut_down_cleanly(vec![]).await;
}

#[tokio::test]
async fn refused_connections_are_retried_with_growing_jittered_delays_up_to_the_cap() {
    let initial = Duration::from_millis(40);
    let cap = Duration::from_millis(320);
    let jitter = 0.5;
    let rig = PoRig::with(fast_sim(), |builder| {
        builder.with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(initial)
                .with_max_delay(cap)
                .with_jitter(jitter)
                .with_stable_after(Duration::from_secs(60)),
        )
    })
    .await;
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    let mut log = StateLog::start(rig.client.watch_connection_state());
    rig.proxy.refuse_for(Duration::from_millis(1500));
    rig.proxy.cut_all();
    let log = log
        .wait("the connection to come back", |log| {
            log.last() == Some(&ConnectionState::Connected)
        })
        .await;
    assert_backoff(&reconnect_delays(&log), initial, cap, jitter);
    let refused = rig.proxy.stats().refused;
    assert!(refused >= 3, "refused {refused} attempts");
    assert!(rig.client.statistics().connect_failures >= refused);
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 2).await;
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn a_server_restart_keeps_the_subscription_and_the_open_deal() {
    let rig = PoRig::start().await;
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    let deal = within("an order", rig.client.buy(ASSET, Decimal::ONE, LONG))
        .await
        .unwrap();
    within("the restart", rig.sim.restart(Duration::from_millis(400)))
        .await
        .unwrap();
    rig.reconnected(1).await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 3).await;
    let result = within("the result", rig.client.result(&deal.id))
        .await
        .unwrap();
    assert_eq!(result.deal.id, deal.id);
    assert_eq!(
        rig.sim.closed_deals().len(),
        1,
        "settled once, across the restart"
    );
    rig.shut_down_cleanly(vec![ticks]).await;
}

/// Arms `corruption`, waits until it hit a tick frame, and returns the tick stream.
async fn corrupt_a_tick_frame(
    rig: &PoRig,
    corruption: Corruption,
) -> binary_options_tools::SubscriptionStream {
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    rig.proxy.corrupt_next(corruption);
    rig.proxy
        .wait_for(WAIT, |s| s.corrupted == 1)
        .await
        .expect("a tick frame was corrupted");
    ticks
}

#[tokio::test]
async fn a_frame_that_is_not_utf8_ends_the_connection_and_streaming_resumes() {
    let rig = PoRig::start().await;
    let mut ticks =
        corrupt_a_tick_frame(&rig, Corruption::flip_bits("updateStream", 0, 0x80)).await;
    rig.reconnected(1).await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 3).await;
    let disconnects = rig.client.statistics().disconnects;
    assert_eq!(
        disconnects.get("transport_error"),
        Some(&1),
        "{disconnects:?}"
    );
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn a_frame_with_a_reserved_opcode_ends_the_connection_and_streaming_resumes() {
    let rig = PoRig::start().await;
    // Two bytes before a short text payload sits the frame's first byte: FIN + opcode 1.
    // Flipping bit 1 makes it opcode 3, which no WebSocket peer may send.
    let mut ticks = corrupt_a_tick_frame(
        &rig,
        Corruption::flip_bits(r#"451-["updateStream""#, -2, 0x02),
    )
    .await;
    rig.reconnected(1).await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 3).await;
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn a_garbled_event_is_dropped_and_counted_without_losing_the_connection() {
    let rig = PoRig::start().await;
    // `[` becomes `{`: still UTF-8, no longer a Socket.IO event.
    let mut ticks = corrupt_a_tick_frame(
        &rig,
        Corruption::flip_bits(r#"451-["updateStream""#, 4, 0x20),
    )
    .await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 5).await;
    assert!(
        rig.client.malformed_frames() >= 1,
        "the bad frame was counted"
    );
    assert_eq!(
        rig.client.statistics().reconnects,
        0,
        "no reconnect for one bad frame"
    );
    assert!(rig.client.is_connected());
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn a_frame_cut_in_the_middle_ends_the_connection_and_streaming_resumes() {
    let rig = PoRig::start().await;
    let mut ticks = corrupt_a_tick_frame(&rig, Corruption::truncate("updateStream", 5)).await;
    assert_eq!(rig.proxy.stats().cut, 1);
    rig.reconnected(1).await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 3).await;
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_by_its_announced_size_with_a_clear_error() {
    let sim = fast_sim().start().await.unwrap();
    let proxy = reliability::FaultProxy::start(sim.addr()).await.unwrap();
    let config = WsConfig::new(proxy.ws_url(&sim.url())).with_max_message_size(1024);
    let mut raw = within("a raw connection", client_ws::connect(&config))
        .await
        .unwrap();
    let open = within("the open packet", raw.stream.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        open.as_text().is_some_and(|t| t.starts_with('0')),
        "{open:?}"
    );
    // A header announcing 1 GiB, and no payload at all: refused on the header alone.
    assert_eq!(proxy.inject(&binary_frame_header(1 << 30)), 1);
    let error = within("the refusal", raw.stream.next())
        .await
        .expect("an error, not the end of the stream")
        .expect_err("the frame is refused");
    assert_eq!(error.kind, TransportErrorKind::TooLarge, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("1073741824") && message.contains("with_max_message_size"),
        "the error names the size and the setting: {message}"
    );
    proxy.shutdown().await;
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_an_oversized_frame_the_client_reconnects_and_streaming_resumes() {
    let rig = PoRig::with(fast_sim(), |builder| {
        builder.with_ws_config(WsConfig::new("ws://replaced").with_max_message_size(256 * 1024))
    })
    .await;
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    assert_eq!(rig.proxy.inject(&binary_frame_header(1 << 30)), 1);
    rig.proxy
        .wait_for(WAIT, |s| s.injected == 1)
        .await
        .expect("the header was injected");
    rig.reconnected(1).await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 3).await;
    let disconnects = rig.client.statistics().disconnects;
    assert_eq!(
        disconnects.get("transport_error"),
        Some(&1),
        "{disconnects:?}"
    );
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn malformed_frames_of_every_kind_are_dropped_and_the_connection_kept() {
    let rig = PoRig::start().await;
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    for kind in MalformedFrame::ALL {
        assert_eq!(rig.sim.send_malformed(kind), 1, "{kind:?} sent");
    }
    // Too many attachments, a header without its attachment, a binary frame without a
    // header, and broken JSON are each counted; garbage text and unknown events are
    // ignored.
    let client = &rig.client;
    until("the malformed frames to be counted", || {
        client.malformed_frames() >= 3
    })
    .await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 5).await;
    let reply = within(
        "a round trip",
        rig.client.raw().send_and_wait(
            r#"42["getBalance"]"#,
            Matcher::event("successupdateBalance"),
            Duration::from_secs(2),
        ),
    )
    .await
    .unwrap();
    assert!(reply.contains("balance"), "{reply}");
    assert_eq!(rig.client.statistics().reconnects, 0, "never a reconnect");
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn a_burst_while_one_consumer_stalls_costs_only_that_streams_excess() {
    let rig = PoRig::with(fast_sim(), |builder| builder.with_stream_buffer(16)).await;
    let mut stalled = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    let mut reader = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let read = tokio::spawn(async move {
        let mut seen = 0u64;
        loop {
            tokio::select! {
                _ = stopped.changed() => return (reader, seen),
                tick = reader.next() => match tick {
                    Some(_) => seen += 1,
                    None => return (reader, seen),
                },
            }
        }
    });
    // Hold everything back for a moment, then let it through in one burst.
    rig.proxy.set_stalled(true);
    tokio::time::sleep(Duration::from_millis(600)).await;
    rig.proxy.set_stalled(false);
    // The connection serves others while one stream is full.
    let started = Instant::now();
    within(
        "a round trip during the burst",
        rig.client.raw().send_and_wait(
            r#"42["getBalance"]"#,
            Matcher::event("successupdateBalance"),
            Duration::from_secs(2),
        ),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let stalled_ref = &stalled;
    until("the stalled stream to overflow", || {
        stalled_ref.dropped() > 0
    })
    .await;
    stop.send(true).unwrap();
    let (reader, seen) = within("the reader", read).await.unwrap();
    assert!(seen > 16, "the reader kept reading: {seen} ticks");
    assert_eq!(reader.dropped(), 0, "a reader that keeps up loses nothing");
    // The stalled consumer resumes: its buffer first, then live ticks.
    let stale = fresh_ticks(&mut stalled, rig.client.server_time().unix(), 3).await;
    // Its buffer, plus at most the one tick the module may still be holding for it (a
    // full stream gets up to 100 ms of backpressure before it counts as stalled).
    assert!(stale <= 17, "at most a buffer's worth is kept: {stale}");
    assert_eq!(rig.client.statistics().reconnects, 0);
    rig.shut_down_cleanly(vec![stalled, reader]).await;
}

#[tokio::test]
async fn on_a_half_open_link_calls_fail_with_typed_errors_within_their_timeouts() {
    // The server pings every 200 ms and gives up on the client after 300 ms of silence.
    let sim = fast_sim()
        .with_ping_interval(Duration::from_millis(200))
        .with_ping_timeout(Duration::from_millis(300));
    let rig = PoRig::with(sim, |builder| builder).await;
    let mut ticks = within(
        "subscribe",
        rig.client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    within("assets", rig.client.assets()).await.unwrap();
    rig.proxy.set_stalled(true);
    let started = Instant::now();
    let (history, raw, order) = within("every call to return", async {
        tokio::join!(
            rig.client.candles(ASSET, Duration::from_secs(60), 10),
            rig.client.raw().send_and_wait(
                r#"42["getBalance"]"#,
                Matcher::event("successupdateBalance"),
                Duration::from_millis(300),
            ),
            rig.client.buy(ASSET, Decimal::ONE, SHORT),
        )
    })
    .await;
    let took = started.elapsed();
    // The dead link is detected within the server's ping window (500 ms): a call still
    // waiting then fails at once with ConnectionLost; one that gave up first, Timeout.
    assert!(
        matches!(
            history,
            Err(Error::Core(
                CoreError::Timeout { .. } | CoreError::ConnectionLost
            ))
        ),
        "{history:?}"
    );
    assert!(matches!(raw, Err(Error::Timeout { .. })), "{raw:?}");
    assert!(
        matches!(order, Err(Error::OrderOutcomeUnknown { .. })),
        "{order:?}"
    );
    // Request timeout 2 s, plus up to 2 s looking for a lost order in the deal lists.
    assert!(took < Duration::from_secs(6), "bounded: {took:?}");
    rig.proxy.set_stalled(false);
    // The server gave up on the silent client meanwhile; the client reconnects.
    rig.reconnected(1).await;
    fresh_ticks(&mut ticks, rig.client.server_time().unix(), 3).await;
    rig.shut_down_cleanly(vec![ticks]).await;
}

#[tokio::test]
async fn a_half_open_link_is_detected_within_the_servers_ping_window() {
    let sim = fast_sim()
        .with_ping_interval(Duration::from_millis(200))
        .with_ping_timeout(Duration::from_millis(300));
    let rig = PoRig::with(sim, |builder| builder).await;
    let mut log = StateLog::start(rig.client.watch_connection_state());
    rig.proxy.set_stalled(true);
    let started = Instant::now();
    // No ping for pingInterval + pingTimeout (500 ms): the platform's own rule for a
    // dead link. Allow a generous multiple of it.
    log.wait("the client to notice the dead link", |log| {
        log.iter().any(|s| !s.is_connected())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    rig.proxy.set_stalled(false);
    rig.shut_down_cleanly(vec![]).await;
}

#[tokio::test]
async fn a_connection_lost_during_authentication_is_retried_not_taken_for_a_rejection() {
    let rig = PoRig::start().await;
    // The next `successauth` (on the reconnect) is cut off in the middle, after the
    // client sent its auth frame.
    rig.proxy
        .corrupt_next(Corruption::truncate("successauth", 3));
    let mut log = StateLog::start(rig.client.watch_connection_state());
    rig.proxy.cut_all();
    let log = log
        .wait("the client to settle", |log| {
            matches!(
                log.last(),
                Some(ConnectionState::Connected | ConnectionState::Disconnected(_))
            )
        })
        .await;
    assert_eq!(
        rig.proxy.stats().corrupted,
        1,
        "the authentication was cut off"
    );
    // A network failure is retried like any other: the client comes back.
    assert_eq!(log.last(), Some(&ConnectionState::Connected), "{log:?}");
    rig.shut_down_cleanly(vec![]).await;
}
