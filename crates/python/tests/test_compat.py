"""The compatibility layer, driven the way the other project's README and examples use it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import binary_options_tools as bot
from binary_options_tools.compat import PocketOption, PocketOptionAsync, Trade, Validator

from conftest import ASSET, arun


def test_async_compat_documented_usage(pocketoption_sim):
    async def main():
        api = PocketOptionAsync(bot.Simulator.ssid(), url=pocketoption_sim.url)
        await asyncio.sleep(0)  # their examples sleep here; nothing to wait for
        balance = await api.balance()
        assert isinstance(balance, float) and balance == 50000.0
        assert api.is_demo() and api.is_connected()
        assert isinstance(await api.payout(ASSET), int)
        payouts = await api.payout()
        assert payouts[ASSET] == await api.payout(ASSET)
        assert await api.payout([ASSET, "NOPE"]) == [payouts[ASSET], None]
        assets = await api.active_assets()
        assert {"id", "symbol", "name", "asset_type", "payout", "is_otc", "is_active", "allowed_candles"} <= set(assets[0])

        pocketoption_sim.pin(ASSET, 1.1)
        await asyncio.sleep(0.2)
        trade_id, trade = await api.buy(asset=ASSET, amount=1.0, time=60, check_win=False)
        assert isinstance(trade, Trade) and trade["id"] == trade_id and trade.command == 0
        assert trade_id in await api.opened_deals()
        assert isinstance(trade["amount"], float) and trade["isDemo"] == 1
        assert await api.get_deal_end_time(trade_id) == trade["closeTimestamp"]
        pocketoption_sim.pin(ASSET, 1.2)
        settled = await api.check_win(trade_id)
        assert settled["result"] == "win" and settled.is_win and settled.is_settled
        assert trade_id in await api.closed_deals()
        assert (await api.get_closed_deal(trade_id))["result"] == "win"
        _, lost = await api.sell(ASSET, 2, 60, check_win=True)
        assert lost["result"] in ("win", "loss", "draw")
        await api.clear_closed_deals()
        assert await api.closed_deals() == []

        candles = await api.get_candles(ASSET, 60, 10)
        assert len(candles) == 10 and set(candles[0]) == {"time", "open", "high", "low", "close"}
        assert len(await api.candles(ASSET, 60, count=5)) == 5
        assert isinstance(await api.get_server_time(), int)

        stream = await api.subscribe_symbol(ASSET)
        async for candle in stream:
            assert candle["symbol"] == ASSET and "close" in candle and "timestamp" in candle
            break
        chunked = await api.subscribe_symbol_chunked(ASSET, 2)
        async for candle in chunked:
            assert candle["volume"] == 2
            break
        timed = await api.subscribe_symbol_timed(ASSET, timedelta(seconds=1))
        async for candle in timed:
            break
        await api.unsubscribe(ASSET)

        reply = await api.raw_request('42["getBalance"]', Validator.contains("successupdateBalance"), timeout=5)
        assert "balance" in reply
        with pytest.raises(NotImplementedError, match="try_demo"):
            await PocketOptionAsync.try_demo()
        with pytest.raises(bot.UnknownAssetError):
            await api.buy("NOPE_otc", 1, 60)
        await api.shutdown()

    arun(main())


def test_async_with_and_config(pocketoption_sim):
    async def main():
        config = {"timeout_secs": 5, "connection_initialization_timeout_secs": 10, "max_allowed_loops": 3}
        async with PocketOptionAsync(bot.Simulator.ssid(), url=pocketoption_sim.url, config=config) as api:
            assert await api.balance() > 0
        with pytest.raises(ConnectionError):
            await api.balance()

    arun(main())


def test_validators():
    assert Validator().check("anything")
    assert Validator.starts_with("42").check('42["x"]')
    assert not Validator.ne(Validator.contains("x")).check("x")
    assert Validator.all([Validator.starts_with("a"), Validator.ends_with("z")]).check("abz")
    assert Validator.any([Validator.contains("q"), Validator.regex(r"\d+")]).check("a1")
    assert Validator.custom(lambda m: len(m) == 3).check("abc")


def test_sync_compat_documented_usage(pocketoption_sim):
    api = PocketOption(bot.Simulator.ssid(), url=pocketoption_sim.url)
    try:
        assert api.balance() == 50000.0
        trade_id, _ = api.buy(ASSET, 1, 60)
        assert trade_id in api.opened_deals()
        result = api.check_win(trade_id)
        assert result["result"] in ("win", "loss", "draw")
        assert len(api.get_candles(ASSET, 60, 5)) == 5
        stream = api.subscribe_symbol(ASSET)
        first = next(iter(stream))
        assert first["symbol"] == ASSET
    finally:
        api.close()
