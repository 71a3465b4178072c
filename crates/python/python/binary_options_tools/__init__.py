"""binary_options_tools: a resilient PocketOption client (Rust inside).

.. code-block:: python

    import asyncio
    from binary_options_tools import PocketOption, Simulator

    async def main() -> None:
        with Simulator(seed=7) as sim:                     # paper trading on loopback
            async with await PocketOption.connect(sim.ssid(), url=sim.url) as client:
                print(await client.balance())              # Decimal('50000.00')
                deal = await client.buy("EURUSD_otc", 1, 60)
                result = await client.result(deal)         # waits expiry + grace
                print(result.outcome, result.profit, result.balance)

    asyncio.run(main())

The sync twin with the same names is :mod:`binary_options_tools.sync`; the
compatibility layer for the other project's API is :mod:`binary_options_tools.compat`.
"""

from __future__ import annotations

import logging as _logging

from . import _native
from ._client import Amount, Matcher, PocketOption, RawStream, Subscription
from ._errors import (
    PocketOptionError,
    InvalidInputError,
    SsidError,
    UnknownAssetError,
    AssetClosedError,
    ExpiryNotAllowedError,
    InvalidAmountError,
    InsufficientBalanceError,
    InvalidSubscriptionError,
    InvalidHistoryRequestError,
    InvalidMatcherError,
    InvalidPendingOrderError,
    TooManySubscriptionsError,
    AuthenticationError,
    PocketOptionConnectionError,
    ConnectFailedError,
    NotConnectedError,
    ConnectionLostError,
    ClientClosedError,
    PocketOptionTimeoutError,
    OrderRejectedError,
    OrderOutcomeUnknownError,
    PendingCancelRejectedError,
    ProtocolError,
    SimulatorError,
    InternalError,
)
from ._native import Candle
from ._sim import Simulator
from ._types import (
    Action,
    Asset,
    Deal,
    DealResult,
    Outcome,
    PendingOrder,
    ServerTime,
    Tick,
    to_dataframe,
)

__version__: str = _native.__version__

__all__ = [
    "PocketOption",
    "Subscription",
    "RawStream",
    "Matcher",
    "Amount",
    "Simulator",
    "Action",
    "Outcome",
    "Asset",
    "Candle",
    "Deal",
    "DealResult",
    "PendingOrder",
    "ServerTime",
    "Tick",
    "refresh_log_level",
    "to_dataframe",
    "PocketOptionError",
    "InvalidInputError",
    "SsidError",
    "UnknownAssetError",
    "AssetClosedError",
    "ExpiryNotAllowedError",
    "InvalidAmountError",
    "InsufficientBalanceError",
    "InvalidSubscriptionError",
    "InvalidHistoryRequestError",
    "InvalidMatcherError",
    "InvalidPendingOrderError",
    "TooManySubscriptionsError",
    "AuthenticationError",
    "PocketOptionConnectionError",
    "ConnectFailedError",
    "NotConnectedError",
    "ConnectionLostError",
    "ClientClosedError",
    "PocketOptionTimeoutError",
    "OrderRejectedError",
    "OrderOutcomeUnknownError",
    "PendingCancelRejectedError",
    "ProtocolError",
    "SimulatorError",
    "InternalError",
]

_logging.getLogger("binary_options_tools").addHandler(_logging.NullHandler())


def refresh_log_level() -> None:
    """Re-reads the level of the ``binary_options_tools`` logger: call it after changing
    the level, so the Rust side forwards exactly the records Python will keep."""
    _native.refresh_log_level()


refresh_log_level()
