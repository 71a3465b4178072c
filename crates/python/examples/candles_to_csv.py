"""Saves candles to CSV (and shows a pandas DataFrame when pandas is installed).

    python candles_to_csv.py --asset EURUSD_otc --period 60 --count 120 --out candles.csv

Sync API: no asyncio needed (works as is in a Jupyter cell). Uses the simulator unless
POCKET_OPTION_SSID is set.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os

from binary_options_tools import Simulator
from binary_options_tools.sync import PocketOption

FIELDS = ["time", "open", "high", "low", "close", "ticks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--asset", default="EURUSD_otc")
    parser.add_argument("--period", type=int, default=60)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--out", default="candles.csv")
    args = parser.parse_args()
    ssid = os.environ.get("POCKET_OPTION_SSID")
    with contextlib.ExitStack() as stack:
        url = None
        if not ssid:
            sim = stack.enter_context(Simulator(seed=5))
            ssid, url = sim.ssid(), sim.url
        with PocketOption.connect(ssid, url=url) as client:
            candles = client.candles(args.asset, args.period, args.count)
    rows = [{k: v for k, v in c.to_dict().items() if k in FIELDS} for c in candles]
    with open(args.out, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "time": row["time"].isoformat()})
    print(f"wrote {len(rows)} candles of {args.asset} to {args.out}")
    try:
        import pandas as pd
    except ImportError:
        return
    frame = pd.DataFrame(rows).set_index("time")
    print(frame.tail())


if __name__ == "__main__":
    main()
