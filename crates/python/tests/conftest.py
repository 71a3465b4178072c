"""Shared helpers: the simulator fixtures come from the package's pytest plugin
(``binary_options_tools.testing``: ``pocketoption_sim``, ``pocketoption_ssid``)."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

import pytest

from binary_options_tools import PocketOption, Simulator

T = TypeVar("T")

ASSET = "EURUSD_otc"


def arun(coro: Awaitable[T]) -> T:
    """Runs a coroutine to completion in a fresh event loop (bounded by the test itself)."""
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def connect(sim: Simulator, uid: int = 1, **options: Any) -> PocketOption:
    options.setdefault("timeout", 10)
    return await PocketOption.connect(Simulator.ssid(uid), url=sim.url, **options)


@pytest.fixture
def with_client(pocketoption_sim: Simulator) -> Callable[[Callable[[PocketOption], Awaitable[T]]], T]:
    """Runs ``body(client)`` against the test's simulator, shutting the client down after."""

    def runner(body: Callable[[PocketOption], Awaitable[T]]) -> T:
        async def main() -> T:
            client = await connect(pocketoption_sim)
            try:
                return await body(client)
            finally:
                await client.shutdown()

        return arun(main())

    return runner
