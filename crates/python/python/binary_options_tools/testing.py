"""pytest fixtures for testing bots against the simulator (no account, no network).

Installed as a pytest plugin (entry point ``pytest11``), so in any project that has the
package, tests can simply ask for the fixtures:

.. code-block:: python

    async def test_my_bot(pocketoption_sim, pocketoption_ssid):
        client = await PocketOption.connect(pocketoption_ssid, url=pocketoption_sim.url)
        ...

Fixtures:

* ``pocketoption_sim``: a fresh :class:`~binary_options_tools.Simulator` per test (seed 7,
  50 ms ticks, ``time_scale=60`` so a 60 s deal settles in 1 s), stopped afterwards.
  Tune it with ``@pytest.mark.pocketoption_sim(seed=…, tick_interval=…, time_scale=…)``.
* ``pocketoption_ssid``: an SSID the simulator accepts (a demo account, uid 1).
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ._sim import Simulator

DEFAULTS: dict[str, Any] = {"seed": 7, "tick_interval": 0.05, "time_scale": 60.0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pocketoption_sim(**options): options of the pocketoption_sim fixture's Simulator",
    )


@pytest.fixture
def pocketoption_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A simulator for one test."""
    options = dict(DEFAULTS)
    marker = request.node.get_closest_marker("pocketoption_sim")
    if marker is not None:
        options.update(marker.kwargs)
    sim = Simulator(**options)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def pocketoption_ssid() -> str:
    """An SSID the simulator accepts."""
    return Simulator.ssid(1)
