"""Quickstart: connect, read the balance, trade, wait for the result, stream prices.

    python quickstart.py                         # against the built-in simulator
    POCKET_OPTION_SSID='42["auth",{...}]' python quickstart.py   # your demo account

With no POCKET_OPTION_SSID, a simulator runs in this process (paper trading: no account,
no network). Its deals settle 60 times faster than real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from binary_options_tools import PocketOption, PocketOptionError, Simulator

ASSET = "EURUSD_otc"


async def main() -> None:
    ssid = os.environ.get("POCKET_OPTION_SSID")
    with contextlib.ExitStack() as stack:
        if ssid:
            url = None
            print("connecting to PocketOption with POCKET_OPTION_SSID")
        else:
            sim = stack.enter_context(Simulator(seed=7, tick_interval=0.1, time_scale=60))
            ssid, url = sim.ssid(), sim.url
            print(f"no POCKET_OPTION_SSID: paper trading on the simulator at {url}")

        async with await PocketOption.connect(ssid, url=url) as client:
            print(client)
            print("balance:", await client.balance())
            print(f"payout of {ASSET}: {await client.payout(ASSET)} %")

            async with await client.subscribe(ASSET) as prices:
                for _ in range(3):
                    candle = await prices.next(timeout=10)
                    if candle is not None:
                        print(f"  {candle.time:%H:%M:%S.%f} {candle.close}")

            deal = await client.buy(ASSET, 1, 60)
            print(f"opened {deal.action} {deal.amount} on {deal.asset}, expires {deal.closes_at:%H:%M:%S}")
            result = await client.result(deal)
            print(f"{result.outcome}: profit {result.profit}, balance now {result.balance}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except PocketOptionError as error:
        raise SystemExit(f"error: {error}") from None
