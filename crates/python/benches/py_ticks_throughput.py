"""py_ticks_throughput: ticks per second a Python ``async for`` loop receives through the
package, against the Rust client's rate on the same flood in the same run (goal: at least
half of Rust's); and py_trade_round_trip: market orders placed from Python against the
simulator, against the Rust client's (goal: p50 within Rust's + 1 ms).

A flood server (a child process, so it never competes for this process's GIL) answers the
PocketOption handshake and, on each subscription, writes N two-step ``updateStream`` ticks
as fast as the socket takes them (the frames the bench crate's server writes). Rounds
alternate Rust and Python; the medians are compared.

    python py_ticks_throughput.py [--ticks 200000] [--rounds 3]

Run by ``cargo xtask python --bench`` on a release wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import socket
import statistics
import struct
import sys
import time

ASSET = "EURUSD_otc"
SSID = '42["auth",{"session":"bench-session","isDemo":1,"uid":777,"platform":2}]'
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes) -> bytes:
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def flood(n: int) -> bytes:
    header = frame(1, b'451-["updateStream",{"_placeholder":true,"num":0}]')
    out = bytearray()
    for i in range(n):
        tick = f'[["{ASSET}",{1_732_288_888.0 + i * 0.001:.3f},{1.05 + (i % 97) * 1e-5:.5f}]]'
        out += header + frame(2, tick.encode())
    return bytes(out)


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, blast: bytes) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    writer.write(frame(1, b'0{"sid":"bench","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'))
    row = [[1, ASSET, "EUR/USD OTC", "currency", 2, 92, 60, 30, 5, 1, 200, 0, [], 1700000000, True,
            [{"time": 5}, {"time": 60}], -1440, 1700000000, 5]]
    try:
        while True:
            b0, b1 = await reader.readexactly(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await reader.readexactly(8))
            mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(n)))
            if opcode == 8:
                writer.write(frame(8, data[:2]))
                break
            if opcode == 9:
                writer.write(frame(10, data))
            elif data == b"40":
                writer.write(frame(1, b'40{"sid":"bench-ns"}'))
            elif data.startswith(b'42["auth"'):
                writer.write(frame(1, b'451-["successauth",{"_placeholder":true,"num":0}]'))
                writer.write(frame(2, b'{"id":"bench","serverName":"bench"}'))
            elif data == b'42["assets/load"]':
                writer.write(frame(1, b'42["updateAssets",' + json.dumps(row).encode() + b"]"))
            elif data == b'42["getBalance"]':
                writer.write(frame(1, b'42["successupdateBalance",{"balance":50000}]'))
            elif data.startswith(b'42["subfor"'):
                writer.write(blast)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def run_server(n: int, port_out: multiprocessing.connection.Connection) -> None:
    blast = flood(n)

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: serve_client(r, w, blast), "127.0.0.1", 0)
        port_out.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def python_trade_latencies(url: str, ssid: str, n: int) -> list[float]:
    from binary_options_tools import PocketOption

    client = await PocketOption.connect(ssid, url=url, timeout=15)
    try:
        await client.balance()
        latencies = []
        for _ in range(n):
            started = time.perf_counter()
            await client.buy(ASSET, 1, 60)
            latencies.append(time.perf_counter() - started)
        return latencies
    finally:
        await client.shutdown()


def trade_round_trips(n: int, rounds: int) -> bool:
    """Order round trips against the simulator: Python's p50 within Rust's + 1 ms."""
    from binary_options_tools import Simulator, _native

    rust: list[float] = []
    python: list[float] = []
    with Simulator(seed=3, max_open_deals=1_000_000) as sim:
        for r in range(rounds):
            rust += _native.rust_trade_latencies(Simulator.ssid(10 + r), sim.url, ASSET, n)
            python += asyncio.run(python_trade_latencies(sim.url, Simulator.ssid(100 + r), n))
    r50, p50 = statistics.median(rust) * 1e3, statistics.median(python) * 1e3
    ok = p50 <= r50 + 1.0
    print(f"py_trade_round_trip: python p50 {p50:.3f} ms, rust p50 {r50:.3f} ms, "
          f"difference {p50 - r50:+.3f} ms (goal <= +1 ms), {n} orders x {rounds} rounds")
    return ok


async def python_rate(url: str, n: int, limit: float) -> tuple[int, int, float]:
    from binary_options_tools import PocketOption

    client = await PocketOption.connect(SSID, url=url, timeout=15)
    try:
        await client.assets()
        started = time.perf_counter()
        sub = await client.subscribe(ASSET)
        delivered = 0

        async def consume() -> None:
            # A plain loop: the drop counter is read every 256 ticks only.
            nonlocal delivered
            async for _candle in sub:
                delivered += 1
                if delivered >= n or (delivered & 255 == 0 and delivered + sub.dropped >= n):
                    return

        try:
            await asyncio.wait_for(consume(), limit)
        except asyncio.TimeoutError:
            if delivered + sub.dropped < n:
                raise TimeoutError("the Python loop did not finish in time") from None
        return delivered, sub.dropped, time.perf_counter() - started
    finally:
        await client.shutdown()


def main() -> int:
    from binary_options_tools import _native

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=float, default=120.0)
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=run_server, args=(args.ticks, there), daemon=True)
    server.start()
    try:
        if not here.poll(60):
            raise SystemExit("the flood server did not start")
        url = f"ws://127.0.0.1:{here.recv()}/socket.io/?EIO=4&transport=websocket"
        rust, python, dropped = [], [], 0
        for _ in range(args.rounds):
            d, lost, secs = _native.rust_tick_rate(SSID, url, ASSET, args.ticks, args.limit)
            rust.append(d / secs)
            dropped += lost
            d, lost, secs = asyncio.run(python_rate(url, args.ticks, args.limit))
            python.append(d / secs)
            dropped += lost
        r, p = statistics.median(rust), statistics.median(python)
        ok = p >= 0.5 * r
        print(f"py_ticks_throughput: python {p:,.0f} ticks/s, rust {r:,.0f} ticks/s, "
              f"ratio {p / r:.2f} (goal >= 0.5), {args.ticks} ticks x {args.rounds} rounds, dropped {dropped}")
        trades_ok = trade_round_trips(args.orders, args.rounds)
        return 0 if ok and trades_ok else 1
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    sys.exit(main())
