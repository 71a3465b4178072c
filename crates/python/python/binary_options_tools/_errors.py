"""The exception tree.

Every error the package raises is a :class:`PocketOptionError`, and also an instance of
the builtin exception it matches, so ``except TimeoutError`` or ``except ValueError``
catches what you would expect:

.. code-block:: text

    PocketOptionError (Exception)
    ├── InvalidInputError (ValueError)          bad arguments, caught before any request
    │   ├── SsidError                           the SSID could not be parsed
    │   ├── UnknownAssetError                   .asset, .similar
    │   ├── AssetClosedError                    .asset
    │   ├── ExpiryNotAllowedError               .asset, .expiry, .allowed
    │   ├── InvalidAmountError                  .amount, .min, .max
    │   ├── InsufficientBalanceError            .amount, .balance
    │   ├── InvalidSubscriptionError
    │   ├── InvalidHistoryRequestError
    │   ├── InvalidMatcherError
    │   ├── InvalidPendingOrderError
    │   └── TooManySubscriptionsError           .requested, .active
    ├── AuthenticationError (PermissionError)   the platform rejected the session
    ├── PocketOptionConnectionError (ConnectionError)
    │   ├── ConnectFailedError                  no connection within the wait
    │   ├── NotConnectedError                   the call needs a connection
    │   ├── ConnectionLostError                 the connection dropped while waiting
    │   └── ClientClosedError                   the client was shut down
    ├── PocketOptionTimeoutError (TimeoutError) .waiting_for, .after (seconds)
    ├── OrderRejectedError                      .reason, .asset, .amount
    ├── OrderOutcomeUnknownError                .request_id, .asset, .amount
    ├── PendingCancelRejectedError              .ticket, .reason
    ├── ProtocolError                           a frame could not be decoded
    ├── SimulatorError (RuntimeError)
    └── InternalError (RuntimeError)            a bug (a Rust panic), reported, never a crash
"""

from __future__ import annotations

__all__ = [
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


class PocketOptionError(Exception):
    """Base of every error this package raises."""


class InvalidInputError(PocketOptionError, ValueError):
    """The arguments are invalid; nothing was sent."""


class SsidError(InvalidInputError):
    """The SSID could not be parsed (the message says how to copy one)."""


class UnknownAssetError(InvalidInputError):
    """The asset is not in the platform's list (``.asset``, ``.similar``)."""

    asset: str
    similar: list[str]


class AssetClosedError(InvalidInputError):
    """Trading on the asset is closed right now (``.asset``)."""

    asset: str


class ExpiryNotAllowedError(InvalidInputError):
    """The expiry is not one the asset allows (``.asset``, ``.expiry``, ``.allowed``)."""

    asset: str
    expiry: float
    allowed: list[int]


class InvalidAmountError(InvalidInputError):
    """The amount is outside the limits (``.amount``, ``.min``, ``.max``)."""


class InsufficientBalanceError(InvalidInputError):
    """The balance does not cover the amount (``.amount``, ``.balance``)."""


class InvalidSubscriptionError(InvalidInputError):
    """The subscription parameters are invalid."""


class InvalidHistoryRequestError(InvalidInputError):
    """The history request parameters are invalid."""


class InvalidMatcherError(InvalidInputError):
    """A raw matcher could not be built (e.g. a bad regular expression)."""


class InvalidPendingOrderError(InvalidInputError):
    """A pending order's trigger is invalid."""


class TooManySubscriptionsError(InvalidInputError):
    """A 5th asset was subscribed while 4 stream (``.requested``, ``.active``)."""

    requested: str
    active: list[str]


class AuthenticationError(PocketOptionError, PermissionError):
    """The platform rejected the session: get a fresh SSID (it is not retried)."""


class PocketOptionConnectionError(PocketOptionError, ConnectionError):
    """The connection layer failed."""


class ConnectFailedError(PocketOptionConnectionError):
    """The platform could not be reached in time; the message says what was tried."""


class NotConnectedError(PocketOptionConnectionError):
    """The call needs a connection and there is none right now."""


class ConnectionLostError(PocketOptionConnectionError):
    """The connection dropped while the call waited for its answer."""


class ClientClosedError(PocketOptionConnectionError):
    """The client was shut down; every call afterwards raises this."""


class PocketOptionTimeoutError(PocketOptionError, TimeoutError):
    """A wait took longer than allowed (``.waiting_for``, ``.after`` in seconds)."""

    waiting_for: str
    after: float


class OrderRejectedError(PocketOptionError):
    """The platform refused the order (``.reason``, ``.asset``, ``.amount``)."""


class OrderOutcomeUnknownError(PocketOptionError):
    """The order was sent but its outcome is unknown: check the open deals first."""


class PendingCancelRejectedError(PocketOptionError):
    """The platform did not cancel the pending order (``.ticket``, ``.reason``)."""


class ProtocolError(PocketOptionError):
    """A frame could not be decoded or encoded."""


class SimulatorError(PocketOptionError, RuntimeError):
    """The simulator could not start or do what was asked."""


class InternalError(PocketOptionError, RuntimeError):
    """A bug inside the package (a Rust panic, caught): please report it."""
