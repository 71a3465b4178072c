"""A small bot: trades the direction of the last candle, keeps its bookkeeping, stops
after N trades or a loss limit. Runs on the simulator unless POCKET_OPTION_SSID is set.

    python bot.py --trades 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from decimal import Decimal

from binary_options_tools import (
    DealResult,
    InvalidInputError,
    OrderRejectedError,
    PocketOption,
    Simulator,
)


async def run(client: PocketOption, asset: str, trades: int, stake: Decimal, max_loss: Decimal) -> Decimal:
    pnl = Decimal(0)
    results: list[DealResult] = []
    async with await client.subscribe(asset, "chunks", chunk=5) as candles:
        async for candle in candles:
            if len(results) >= trades or pnl <= -max_loss:
                break
            action = "call" if candle.close >= candle.open else "put"
            try:
                deal = await client.trade(asset, action, stake, 60)
            except (InvalidInputError, OrderRejectedError) as refused:
                print(f"skipped: {refused}")
                continue
            result = await client.result(deal)
            results.append(result)
            pnl += result.profit
            print(f"#{len(results)} {action:4} {result.outcome:4} {result.profit:>+8} pnl {pnl:>+8} balance {result.balance}")
    wins = sum(r.is_win for r in results)
    print(f"{len(results)} trades, {wins} won, pnl {pnl}")
    return pnl


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asset", default="EURUSD_otc")
    parser.add_argument("--trades", type=int, default=5)
    parser.add_argument("--stake", type=Decimal, default=Decimal("1"))
    parser.add_argument("--max-loss", type=Decimal, default=Decimal("10"))
    args = parser.parse_args()
    ssid = os.environ.get("POCKET_OPTION_SSID")
    with contextlib.ExitStack() as stack:
        url = None
        if not ssid:
            sim = stack.enter_context(Simulator(seed=11, tick_interval=0.05, time_scale=60))
            ssid, url = sim.ssid(), sim.url
        async with await PocketOption.connect(ssid, url=url) as client:
            await run(client, args.asset, args.trades, args.stake, args.max_loss)


if __name__ == "__main__":
    asyncio.run(main())
