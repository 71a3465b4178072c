"""The async API against the in-process simulator."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest

import binary_options_tools as bot
from binary_options_tools import Matcher, PocketOption, Simulator

from conftest import ASSET, arun, connect


def test_connect_returns_authenticated_with_balance_assets_and_payout(pocketoption_sim, with_client):
    async def body(client: PocketOption):
        assert client.is_connected and client.is_demo
        assert "demo" in repr(client)
        balance = await client.balance()
        assert isinstance(balance, Decimal) and balance == Decimal("50000")
        assets = await client.assets()
        symbols = [a.symbol for a in assets]
        assert symbols == sorted(symbols) and ASSET in symbols
        assert set(symbols) == set(pocketoption_sim.assets())
        eur = await client.asset(ASSET)
        assert isinstance(eur, bot.Asset) and eur.is_active and 60 in eur.expiries
        assert await client.payout(ASSET) == eur.payout > 0
        assert eur.to_dict()["symbol"] == ASSET
        with pytest.raises(dataclass_frozen_error()):
            eur.payout = 1  # type: ignore[misc]

    with_client(body)


def dataclass_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_invalid_ssid_is_a_value_error():
    with pytest.raises(bot.SsidError) as caught:
        arun(PocketOption.connect("not an ssid", url="ws://127.0.0.1:9/", timeout=1))
    assert isinstance(caught.value, ValueError)


@pytest.mark.pocketoption_sim(reject_sessions=True)
def test_rejected_session_fails_at_once_as_permission_error(pocketoption_sim):
    started = time.monotonic()
    with pytest.raises(bot.AuthenticationError) as caught:
        arun(connect(pocketoption_sim, timeout=20))
    assert isinstance(caught.value, PermissionError)
    assert time.monotonic() - started < 5, "a rejection must not wait for the timeout"
    assert "simulator-session" not in str(caught.value)


def test_nothing_listening_is_a_connection_error():
    with Simulator() as sim:
        url = sim.url
    with pytest.raises(bot.ConnectFailedError) as caught:
        arun(PocketOption.connect(Simulator.ssid(), url=url, timeout=1))
    assert isinstance(caught.value, ConnectionError)
    assert "127.0.0.1" in str(caught.value)


def test_unknown_asset_suggests_similar(with_client):
    async def body(client):
        with pytest.raises(bot.UnknownAssetError) as caught:
            await client.payout("eurusd_OTC")
        assert isinstance(caught.value, ValueError)
        assert caught.value.asset == "eurusd_OTC"
        assert ASSET in caught.value.similar

    with_client(body)


@pytest.mark.pocketoption_sim(max_open_deals=1, demo_balance=100)
def test_refused_orders(pocketoption_sim, with_client):
    async def body(client):
        before = await client.balance()
        with pytest.raises(bot.InsufficientBalanceError) as caught:
            await client.buy(ASSET, 101, 60)
        assert caught.value.balance == before
        with pytest.raises(bot.InvalidAmountError):
            await client.buy(ASSET, Decimal("0.5"), 60)
        with pytest.raises(bot.ExpiryNotAllowedError) as expiry:
            await client.buy(ASSET, 1, 7)
        assert 60 in expiry.value.allowed
        with pytest.raises(bot.InvalidInputError):
            await client.trade(ASSET, "sideways", 1, 60)
        with pytest.raises(bot.InvalidInputError):
            await client.buy(ASSET, True, 60)
        pocketoption_sim.set_asset_active("GBPUSD_otc", False)
        await asyncio.sleep(0.3)
        # The client's asset list may not have been refreshed: either check refuses it.
        with pytest.raises((bot.AssetClosedError, bot.OrderRejectedError)):
            await client.buy("GBPUSD_otc", 1, 60)
        # The platform's own refusal: one open deal at most.
        await client.buy(ASSET, 1, 3600)
        with pytest.raises(bot.OrderRejectedError) as rejected:
            await client.buy(ASSET, 1, 3600)
        assert rejected.value.asset == ASSET and rejected.value.amount == 1
        # Nothing refused took money: only the one open deal's stake.
        assert await client.balance() == before - 1
        assert pocketoption_sim.open_deal_count == 1

    with_client(body)


def test_win_loss_and_draw_settle_with_the_exact_balance(pocketoption_sim, with_client):
    async def body(client):
        payout = await client.payout(ASSET)
        stake = Decimal("10.35")
        balance = await client.balance()
        for direction_after, expected in ((1.2, "win"), (1.0, "loss"), (1.1, "draw")):
            pocketoption_sim.pin(ASSET, 1.1)
            await asyncio.sleep(0.2)
            deal = await client.buy(ASSET, stake, 60)
            assert isinstance(deal, bot.Deal) and deal.action == "call" and not deal.is_closed
            assert deal.amount == stake
            assert abs(deal.duration - timedelta(seconds=60)) < timedelta(seconds=1)
            assert await client.balance() == balance - stake
            assert deal.id in [d.id for d in client.opened_deals()]
            pocketoption_sim.pin(ASSET, direction_after)
            result = await client.result(deal)
            assert result.outcome == expected
            if expected == "win":
                # The platform pays whole cents, rounded half up.
                expected_profit = (stake * payout / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
                assert result.profit == expected_profit
                assert result.is_win
            elif expected == "loss":
                assert result.profit == -stake
                assert result.is_loss
            else:
                assert result.profit == 0
                assert result.is_draw
            assert result.balance == balance + result.profit
            balance = await client.balance()
            assert balance == result.balance
            assert result.deal.is_closed and result.deal.close_price == direction_after
            assert result.to_dict()["deal"]["id"] == deal.id
        closed = client.closed_deals()
        assert len(closed) == 3
        assert len(client.take_closed()) == 3 and client.closed_deals() == []
        assert pocketoption_sim.balance(1) == float(balance)

    with_client(body)


def test_sell_is_a_put(pocketoption_sim, with_client):
    async def body(client):
        pocketoption_sim.pin(ASSET, 1.1)
        await asyncio.sleep(0.2)
        deal = await client.sell(ASSET, 1, timedelta(minutes=1))
        assert deal.action == "put"
        pocketoption_sim.pin(ASSET, 1.0)
        assert (await client.result(deal.id)).outcome == "win"

    with_client(body)


def test_subscriptions_stream_candles_and_close(with_client):
    async def body(client):
        async with await client.subscribe(ASSET) as ticks:
            candles = []
            async for candle in ticks:
                candles.append(candle)
                if len(candles) == 3:
                    break
        assert all(c.ticks == 1 and c.open == c.close and c.asset == ASSET for c in candles)
        assert candles[0].time <= candles[1].time <= candles[2].time
        assert candles[0].time.tzinfo is timezone.utc
        chunks = await client.subscribe(ASSET, "chunks", chunk=3)
        candle = await chunks.next(timeout=5)
        assert candle is not None and candle.ticks == 3
        assert candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        chunks.close()
        assert await chunks.next(timeout=1) is None
        with pytest.raises(bot.InvalidSubscriptionError):
            await client.subscribe(ASSET, "candles", period=7)
        with pytest.raises(bot.InvalidInputError):
            await client.subscribe(ASSET, "sideways")

    with_client(body)


def test_a_fifth_asset_is_refused_naming_the_four(with_client):
    async def body(client):
        four = ["EURUSD_otc", "GBPUSD_otc", "#AAPL_otc", "BTCUSD_otc"]
        assets = {a.symbol for a in await client.assets()}
        four = [a for a in four if a in assets][:4]
        others = sorted(assets - set(four))
        four += others[: 4 - len(four)]
        subs = [await client.subscribe(a) for a in four]
        with pytest.raises(bot.TooManySubscriptionsError) as caught:
            await client.subscribe(others[-1])
        assert sorted(caught.value.active) == sorted(four)
        for sub in subs:
            sub.close()

    with_client(body)


def test_stream_survives_a_simulator_side_drop(pocketoption_sim, with_client):
    async def body(client):
        sub = await client.subscribe(ASSET)
        assert await sub.next(timeout=5) is not None
        pocketoption_sim.drop_connections()
        await asyncio.sleep(0.2)
        # Ticks flow again over the new connection, on the same stream.
        deadline = time.monotonic() + 15
        accepted_before = pocketoption_sim.connections_accepted
        got = None
        while time.monotonic() < deadline:
            got = await sub.next(timeout=15)
            if pocketoption_sim.connections_accepted >= 2 and client.is_connected:
                break
        assert got is not None
        assert pocketoption_sim.connections_accepted >= 2
        fresh = await sub.next(timeout=5)
        assert fresh is not None and fresh.timestamp >= got.timestamp
        assert accepted_before >= 1

    with_client(body)


def test_timeouts_when_the_simulator_goes_silent(pocketoption_sim, with_client):
    async def body(client):
        sub = await client.subscribe(ASSET)
        assert await sub.next(timeout=5) is not None
        pocketoption_sim.set_silent(True)
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(bot.PocketOptionTimeoutError) as caught:
            for _ in range(100):  # past the ticks that arrived before the silence
                await sub.next(timeout=0.5)
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.after == pytest.approx(0.5)
        with pytest.raises(TimeoutError):
            await client.candles(ASSET, 60, 10, timeout=0.5)
        with pytest.raises(TimeoutError):
            await client.send_and_wait('42["getBalance"]', Matcher.event("successupdateBalance"), timeout=0.5)
        assert time.monotonic() - started < 5
        pocketoption_sim.set_silent(False)
        # A timeout does not poison the client. (Another period: the abandoned request
        # above may still be pending inside the client for its own 10 s.)
        assert len(await client.candles(ASSET, 30, 5, timeout=10)) == 5
        assert await sub.next(timeout=5) is not None

    with_client(body)


def test_cancelling_an_awaiting_call_cancels_it_cleanly(pocketoption_sim, with_client):
    async def body(client):
        deal = await client.buy(ASSET, 1, 3600)  # 60 s of real time at time_scale 60
        waiting = asyncio.ensure_future(client.result(deal))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # The deal is still tracked and the client still answers.
        assert deal.id in [d.id for d in client.opened_deals()]
        assert isinstance(await client.balance(), Decimal)
        # A cancelled subscription wait leaves the stream usable.
        sub = await client.subscribe(ASSET)
        pending = asyncio.ensure_future(sub.next())
        await asyncio.sleep(0)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert await sub.next(timeout=5) is not None
        # asyncio.wait_for cancels too.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.result(deal), 0.2)

    with_client(body)


def test_calls_after_shutdown_raise_client_closed(pocketoption_sim):
    async def main():
        client = await connect(pocketoption_sim)
        sub = await client.subscribe(ASSET)
        stream_next = asyncio.ensure_future(sub.next(timeout=10))
        await asyncio.sleep(0.2)
        await client.shutdown()
        await client.shutdown()  # harmless twice
        # A stream whose client shut down raises instead of ending silently.
        try:
            value = await stream_next
        except bot.ClientClosedError:
            value = "closed"
        assert value is not None
        for call in (
            client.balance(),
            client.buy(ASSET, 1, 60),
            client.candles(ASSET, 60, 5),
            client.subscribe(ASSET),
            client.send_raw('42["ps"]'),
        ):
            with pytest.raises(bot.ClientClosedError) as caught:
                await call
            assert isinstance(caught.value, ConnectionError)
        with pytest.raises(bot.ClientClosedError):
            async for _ in sub:
                pass
        assert not client.is_connected

    arun(main())


def test_async_with_shuts_the_client_down(pocketoption_sim):
    async def main():
        async with await connect(pocketoption_sim) as client:
            assert await client.balance() > 0
        with pytest.raises(bot.ClientClosedError):
            await client.balance()

    arun(main())


def test_history_candles_and_server_time(with_client):
    async def body(client):
        candles = await client.candles(ASSET, 60, 10)
        assert len(candles) == 10
        assert all(isinstance(c, bot.Candle) and c.time.second == 0 for c in candles)
        stamps = [c.timestamp for c in candles]
        assert stamps == sorted(stamps) and all(b - a == 60 for a, b in zip(stamps, stamps[1:]))
        now = client.server_time()
        assert isinstance(now, bot.ServerTime) and now.now.tzinfo is timezone.utc
        assert abs(now.timestamp - time.time()) < 5
        end = now.now - timedelta(hours=1)
        page = await client.history(ASSET, 60, end, 600)
        assert page and all(c.time <= end for c in page)
        older = await client.candles(ASSET, 60, 5, end=end)
        assert older[-1].time <= end
        with pytest.raises(bot.InvalidHistoryRequestError):
            await client.candles(ASSET, 60, 0)
        with pytest.raises(bot.InvalidInputError):
            await client.candles(ASSET, -1, 5)

    with_client(body)


@pytest.mark.pocketoption_sim(history_prices=True)
def test_tick_history(with_client):
    async def body(client):
        ticks = await client.ticks(ASSET, 50)
        assert len(ticks) == 50
        assert all(isinstance(t, bot.Tick) and t.price > 0 for t in ticks)
        assert [t.timestamp for t in ticks] == sorted(t.timestamp for t in ticks)
        span = await client.ticks(ASSET, span=5)
        assert span and span[-1].timestamp - span[0].timestamp <= 5
        with pytest.raises(bot.InvalidInputError):
            await client.ticks(ASSET)

    with_client(body)


def test_pending_orders_open_list_and_cancel(with_client):
    async def body(client):
        at = client.server_time().now + timedelta(minutes=30)
        order = await client.open_pending(ASSET, "call", 2, 60, at=at)
        assert isinstance(order, bot.PendingOrder) and order.ticket
        assert order.open_at is not None and order.amount == 2
        by_price = await client.open_pending(ASSET, "put", 1, 60, price=9.99, min_payout=50)
        assert {o.ticket for o in client.pending_orders()} == {order.ticket, by_price.ticket}
        await client.cancel_pending(order.ticket)
        assert await client.cancel_pending_orders([by_price.ticket]) == [by_price.ticket]
        assert client.pending_orders() == []
        with pytest.raises(bot.PendingCancelRejectedError):
            await client.cancel_pending(order.ticket)
        with pytest.raises(bot.InvalidPendingOrderError):
            await client.open_pending(ASSET, "call", 1, 60, at=datetime(2001, 1, 1))
        with pytest.raises(bot.InvalidInputError):
            await client.open_pending(ASSET, "call", 1, 60)

    with_client(body)


def test_pending_order_fills_into_a_deal(with_client):
    async def body(client):
        at = client.server_time().now + timedelta(seconds=2)
        order = await client.open_pending(ASSET, "call", 3, 60, at=at)
        deal = await client.pending_fill(order.ticket, timeout=15)
        assert deal.request_id == order.ticket and deal.amount == 3
        result = await client.result(deal)
        assert result.outcome in ("win", "loss", "draw")

    with_client(body)


def test_raw_send_wait_and_stream(with_client):
    async def body(client):
        reply = await client.send_and_wait(
            '42["getBalance"]', Matcher.event("successupdateBalance"), timeout=5
        )
        assert "balance" in reply
        stream = client.raw_stream(Matcher.event("updateStream") | Matcher.contains("never"))
        sub = await client.subscribe(ASSET)
        frame = await stream.next(timeout=5)
        assert frame is not None and "updateStream" in frame
        stream.close()
        sub.close()
        assert Matcher.starts_with("42").matches('42["x"]')
        assert (~Matcher.starts_with("42")).matches("3")
        assert (Matcher.contains("a") & Matcher.ends_with("b")).matches("ab")
        with pytest.raises(bot.InvalidMatcherError):
            Matcher.regex("(")
        await client.send_raw('42["ps"]')

    with_client(body)


def test_rust_logs_reach_python_logging_without_secrets(pocketoption_sim, caplog):
    caplog.set_level(logging.DEBUG, logger="binary_options_tools")
    bot.refresh_log_level()
    try:
        async def main():
            async with await connect(pocketoption_sim):
                pass

        arun(main())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            r.name.startswith("binary_options_tools.") for r in caplog.records
        ):
            time.sleep(0.05)
    finally:
        logging.getLogger("binary_options_tools").setLevel(logging.NOTSET)
        bot.refresh_log_level()
    records = [r for r in caplog.records if r.name.startswith("binary_options_tools.")]
    assert records, "no record from the Rust side"
    assert not any("simulator-session" in r.getMessage() for r in records)


def test_exception_tree_subclasses_builtins():
    assert issubclass(bot.PocketOptionTimeoutError, TimeoutError)
    assert issubclass(bot.AuthenticationError, PermissionError)
    assert issubclass(bot.ConnectFailedError, ConnectionError)
    assert issubclass(bot.ClientClosedError, ConnectionError)
    assert issubclass(bot.UnknownAssetError, ValueError)
    assert issubclass(bot.InternalError, RuntimeError)
    for name in bot._errors.__all__:
        assert issubclass(getattr(bot, name), bot.PocketOptionError)


def test_simulator_ssid_is_json():
    ssid = Simulator.ssid(42)
    assert ssid.startswith("42[")
    assert json.loads(ssid[2:])[1]["uid"] == 42


def test_to_dataframe_needs_pandas_or_builds_a_frame(with_client):
    async def body(client):
        return await client.candles(ASSET, 60, 5)

    candles = with_client(body)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="binary_options_tools\\[pandas\\]"):
            bot.to_dataframe(candles)
        return
    frame = bot.to_dataframe(candles)
    assert list(frame["close"]) == [c.close for c in candles]


def test_simulator_fault_knobs(pocketoption_sim, with_client):
    async def body(client):
        # Malformed frames are dropped; the connection and the client go on.
        assert pocketoption_sim.send_malformed("garbage-text") >= 1
        with pytest.raises(bot.InvalidInputError):
            pocketoption_sim.send_malformed("no-such-kind")
        assert isinstance(await client.balance(), Decimal)
        # Slow replies: a short timeout runs out, a long one gets the answer.
        pocketoption_sim.set_reply_delay(1.0)
        with pytest.raises(TimeoutError):
            await client.candles(ASSET, 60, 5, timeout=0.3)
        pocketoption_sim.set_reply_delay(0)
        # A restart: the client reconnects by itself.
        accepted = pocketoption_sim.connections_accepted
        pocketoption_sim.restart(0.3)
        await client.wait_connected(timeout=15)
        deadline = time.monotonic() + 15
        while pocketoption_sim.connections_accepted == accepted and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert pocketoption_sim.connections_accepted > accepted
        assert len(await client.candles(ASSET, 30, 3, timeout=10)) >= 3
        # A reconnect on request makes a new connection.
        accepted = pocketoption_sim.connections_accepted
        await client.reconnect(timeout=10)
        assert pocketoption_sim.connections_accepted == accepted + 1
        assert isinstance(await client.balance(), Decimal)
        with pytest.raises(bot.InvalidInputError):
            await client.balance(timeout=-1)
        with pytest.raises(bot.SimulatorError):
            pocketoption_sim.pin("NOPE", 1.0)

    with_client(body)


def test_a_rust_panic_is_an_internal_error_not_a_crash():
    from binary_options_tools import _native

    async def awaiting():
        return await _native.panic_for_tests(False)

    with pytest.raises(bot.InternalError) as caught:
        arun(awaiting())
    assert "deliberate panic" in str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    with pytest.raises(bot.InternalError):
        _native.panic_for_tests(True)
    # The runtime survived: the package still works.
    with Simulator() as sim:
        async def main():
            async with await PocketOption.connect(Simulator.ssid(), url=sim.url, timeout=10) as c:
                return await c.balance()

        assert arun(main()) > 0
