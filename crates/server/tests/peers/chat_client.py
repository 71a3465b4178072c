"""A stock Python client (the `websockets` package) against `examples/chat_server.rs`.

Run by `cargo xtask ci` (`xtask/src/peers.rs`) as `python chat_client.py ws://HOST:PORT`.
It checks, with a client we did not write: an upgrade without a name is refused with HTTP
401; two sessions chat in the lobby; `/who` lists them; a 2 MiB message (over the 1 MiB
default) ends the session with close code 1009; and, once it prints `ready for shutdown`
and the server is asked to stop, a session is closed with 1001. Exits non-zero with a
sentence on the first failure.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

WAIT = 10


def fail(message):
    print(f"stock client: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def close_code(ws):
    """The close code the server sent (the attribute moved between websockets releases)."""
    code = getattr(ws, "close_code", None)
    return code if code is not None else ws.protocol.close_code


async def expect(ws, predicate, what):
    async def wait():
        while True:
            message = await ws.recv()
            if predicate(message):
                return message

    try:
        return await asyncio.wait_for(wait(), WAIT)
    except asyncio.TimeoutError:
        fail(f"timed out waiting for {what}")
    except ConnectionClosed as closed:
        fail(f"closed ({closed}) while waiting for {what}")


async def main(url):
    try:
        async with connect(f"{url}/", open_timeout=WAIT):
            fail("a session without a name was accepted")
    except InvalidStatus as refused:
        if refused.response.status_code != 401:
            fail(f"expected HTTP 401 without a name, got {refused.response.status_code}")

    async with connect(f"{url}/?name=py-alice", open_timeout=WAIT) as alice:
        async with connect(f"{url}/?name=py-bob", open_timeout=WAIT) as bob:
            await expect(alice, lambda m: m == "* py-bob joined lobby", "py-bob's arrival")
            await alice.send("hello from a stock client")
            await expect(bob, lambda m: m == "py-alice: hello from a stock client", "py-alice's line")
            await bob.send("/who")
            await expect(
                bob,
                lambda m: m.startswith("* in lobby:") and "py-alice" in m and "py-bob" in m,
                "the room list",
            )
            try:
                await bob.send("x" * (2 << 20))
            except ConnectionClosed:
                # The server may close with 1009 before the client has finished writing
                # the message; the close code is checked below either way.
                pass
            try:
                await asyncio.wait_for(bob.wait_closed(), WAIT)
            except asyncio.TimeoutError:
                fail("a 2 MiB message did not end the session")
            if close_code(bob) != 1009:
                fail(f"a 2 MiB message: expected close code 1009, got {close_code(bob)}")
            await expect(alice, lambda m: m.startswith("* py-bob left"), "py-bob's departure")

    async with connect(f"{url}/?name=py-carol", open_timeout=WAIT) as carol:
        print("ready for shutdown", flush=True)
        try:
            await asyncio.wait_for(carol.wait_closed(), 30)
        except asyncio.TimeoutError:
            fail("the server's shutdown did not close the session")
        if close_code(carol) != 1001:
            fail(f"shutdown: expected close code 1001, got {close_code(carol)}")
    print("stock client: all checks passed", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: chat_client.py ws://HOST:PORT")
    asyncio.run(main(sys.argv[1]))
