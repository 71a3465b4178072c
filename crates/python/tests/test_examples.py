"""The examples run against the simulator and print what they promise."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "POCKET_OPTION_SSID"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_quickstart():
    out = run("quickstart.py")
    assert "paper trading on the simulator" in out
    assert "balance: 50000" in out
    assert any(line.startswith(("win:", "loss:", "draw:")) for line in out.splitlines())


def test_bot():
    out = run("bot.py", "--trades", "3")
    assert "3 trades" in out


def test_candles_to_csv(tmp_path):
    out_file = tmp_path / "c.csv"
    out = run("candles_to_csv.py", "--count", "30", "--out", str(out_file))
    assert "wrote" in out
    with open(out_file) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 30 and set(rows[0]) == {"time", "open", "high", "low", "close", "ticks"}
