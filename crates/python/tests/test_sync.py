"""The sync twin: the same names, blocking with the GIL released, Ctrl-C honoured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal

import pytest

import binary_options_tools as bot
from binary_options_tools import Simulator
from binary_options_tools.sync import PocketOption

from conftest import ASSET


def connect(sim: Simulator) -> PocketOption:
    return PocketOption.connect(Simulator.ssid(), url=sim.url, timeout=10)


def test_sync_client_trades_and_settles(pocketoption_sim):
    with connect(pocketoption_sim) as client:
        assert client.is_connected
        before = client.balance()
        assert isinstance(before, Decimal)
        assert ASSET in [a.symbol for a in client.assets()]
        payout = client.payout(ASSET)
        pocketoption_sim.pin(ASSET, 1.1)
        time.sleep(0.2)
        deal = client.buy(ASSET, 5, 60)
        assert client.balance() == before - 5
        pocketoption_sim.pin(ASSET, 1.2)
        result = client.result(deal)
        assert result.outcome == "win"
        assert result.profit == Decimal(5 * payout) / 100
        assert client.balance() == before + result.profit
        assert len(client.candles(ASSET, 60, 5)) >= 5
        with client.subscribe(ASSET) as sub:
            first = next(iter(sub))
            assert first.asset == ASSET
            assert sub.next(timeout=5) is not None
        with pytest.raises(bot.UnknownAssetError):
            client.payout("NOPE")
    with pytest.raises(bot.ClientClosedError):
        client.balance()


def test_sync_timeout_raises_timeout_error(pocketoption_sim):
    with connect(pocketoption_sim) as client:
        sub = client.subscribe(ASSET)
        pocketoption_sim.set_silent(True)
        with pytest.raises(TimeoutError):
            for _ in range(100):
                sub.next(timeout=0.3)
        pocketoption_sim.set_silent(False)


def test_sync_calls_release_the_gil(pocketoption_sim):
    """A blocking call lets other Python threads run meanwhile."""
    with connect(pocketoption_sim) as client:
        sub = client.subscribe(ASSET)
        pocketoption_sim.set_silent(True)
        counter = 0
        stop = threading.Event()

        def spin() -> None:
            nonlocal counter
            while not stop.is_set():
                counter += 1
                time.sleep(0.001)

        thread = threading.Thread(target=spin)
        thread.start()
        try:
            with pytest.raises(TimeoutError):
                for _ in range(100):
                    sub.next(timeout=0.5)
        finally:
            stop.set()
            thread.join(5)
            pocketoption_sim.set_silent(False)
        assert counter > 50


def test_sync_client_works_from_a_thread(pocketoption_sim):
    out: list[object] = []

    def work() -> None:
        with connect(pocketoption_sim) as client:
            out.append(client.balance())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    assert out and isinstance(out[0], Decimal)


SCRIPT = textwrap.dedent(
    """
    import sys, time
    from binary_options_tools import Simulator
    from binary_options_tools.sync import PocketOption

    with Simulator(seed=3, tick_interval=0.05, time_scale=1.0) as sim:
        client = PocketOption.connect(Simulator.ssid(), url=sim.url, timeout=10)
        deal = client.buy("EURUSD_otc", 1, 3600)
        print("waiting", flush=True)
        started = time.monotonic()
        try:
            client.result(deal)          # an hour: only Ctrl-C ends it
        except KeyboardInterrupt:
            print(f"interrupted after {time.monotonic() - started:.2f}", flush=True)
            print("still usable", client.balance() > 0, flush=True)
            client.shutdown()
            sys.exit(0)
        print("result returned", flush=True)
        sys.exit(3)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_interrupts_a_blocking_call():
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "waiting", child.stderr.read() if child.stderr else line
        time.sleep(0.5)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
        reacted = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, (out, err)
    assert "interrupted after" in out and "still usable True" in out
    assert reacted < 5
    assert "panicked" not in err


def test_sync_pending_raw_history_and_shutdown(pocketoption_sim):
    from datetime import timedelta

    from binary_options_tools import Matcher

    client = connect(pocketoption_sim)
    try:
        order = client.open_pending(ASSET, "put", 1, 60, at=client.server_time().now + timedelta(hours=1))
        assert [o.ticket for o in client.pending_orders()] == [order.ticket]
        assert client.cancel_pending_orders([order.ticket]) == [order.ticket]
        reply = client.send_and_wait('42["getBalance"]', Matcher.event("successupdateBalance"), timeout=5)
        assert "balance" in reply
        end = client.server_time().now - timedelta(hours=2)
        page = client.history(ASSET, 60, end, 300)
        assert page and page[-1].time <= end
        with pytest.raises(bot.InvalidPendingOrderError):
            client.open_pending(ASSET, "call", 1, 60, price=-1.0)
    finally:
        client.shutdown()
        client.shutdown()
    with pytest.raises(bot.ClientClosedError):
        client.candles(ASSET, 60, 5)


def test_compat_raw_handler(pocketoption_sim):
    from binary_options_tools.compat import PocketOptionAsync, Validator

    from conftest import arun

    async def main():
        api = PocketOptionAsync(Simulator.ssid(), url=pocketoption_sim.url)
        handler = await api.raw_handler(Validator.contains("successupdateBalance"))
        reply = await handler.send_and_wait('42["getBalance"]', timeout=5)
        assert "balance" in reply
        handler.close()
        custom = await api.raw_handler(Validator.custom(lambda m: "successupdateBalance" in m))
        assert "balance" in await custom.send_and_wait('42["getBalance"]', timeout=5)
        custom.close()
        with pytest.raises(NotImplementedError, match="send_binary"):
            await custom.send_binary(b"x")
        await api.shutdown()

    arun(main())
