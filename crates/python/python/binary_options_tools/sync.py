"""The sync twin of the async client: the same names, blocking.

.. code-block:: python

    from binary_options_tools.sync import PocketOption

    with PocketOption.connect(ssid) as client:
        print(client.balance())

Each call blocks in Rust with the GIL released (other Python threads run), and wakes every
50 ms to let Python handle signals: Ctrl-C raises ``KeyboardInterrupt`` and abandons the
call cleanly. No asyncio is involved, so it works in threads and inside Jupyter.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from types import TracebackType
from typing import Any, Sequence, cast

from . import _args
from ._args import Seconds, When
from ._client import BATCH, Amount, Matcher
from ._native import NativeClient, NativeRawStream, NativeSubscription
from ._native import Candle
from ._types import Asset, Deal, DealResult, PendingOrder, ServerTime, Tick

__all__ = ["PocketOption", "Subscription", "RawStream", "Matcher", "Amount"]




class Subscription:
    """A live stream of candles: ``for candle in sub`` (and ``with``).

    It survives reconnects. It ends (``StopIteration``) only when you close it; when
    the client shuts down it raises ``ClientClosedError`` instead of ending silently.
    """

    __slots__ = ("_native", "_ready")

    def __init__(self, native: NativeSubscription) -> None:
        self._native = native
        # Candles that crossed from Rust in one batch and are not handed out yet.
        self._ready: deque[Candle] = deque()

    @property
    def asset(self) -> str:
        return self._native.asset

    @property
    def dropped(self) -> int:
        """Ticks dropped because the stream was not read fast enough."""
        return self._native.dropped()

    def next(self, *, timeout: Seconds | None = None) -> Candle | None:
        """The next candle, or ``None`` once closed; ``timeout`` raises ``TimeoutError``."""
        if not self._ready:
            batch = self._native.next_batch(BATCH, _args.seconds(timeout, "a timeout"), True)
            if batch is None:
                return None
            self._ready.extend(batch)
        return self._ready.popleft()

    def close(self) -> None:
        """Unsubscribes this stream (others of the same asset go on)."""
        self._ready.clear()
        self._native.close()

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Candle:
        if not self._ready:
            batch = self._native.next_batch(BATCH, None, True)
            if batch is None:
                raise StopIteration
            self._ready.extend(batch)
        return self._ready.popleft()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RawStream:
    """Raw frames a :class:`Matcher` accepts: ``for frame in stream``."""

    __slots__ = ("_native",)

    def __init__(self, native: NativeRawStream) -> None:
        self._native = native

    def next(self, *, timeout: Seconds | None = None) -> str | None:
        return cast("str | None", self._native.next(_args.seconds(timeout, "a timeout"), True))

    def close(self) -> None:
        self._native.close()

    def __iter__(self) -> RawStream:
        return self

    def __next__(self) -> str:
        frame = self._native.next(None, True)
        if frame is None:
            raise StopIteration
        return cast(str, frame)

    def __enter__(self) -> RawStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PocketOption:
    """The sync PocketOption client (see :class:`binary_options_tools.PocketOption`).

    ``client = PocketOption.connect(ssid)`` returns once authenticated (a rejected
    session raises ``AuthenticationError`` at once). Every waiting method takes
    ``timeout=`` (seconds or a ``timedelta``); Ctrl-C abandons a waiting call
    cleanly (an order already sent is still tracked). Use ``with`` or
    :meth:`shutdown` to close it.
    """

    __slots__ = ("_n",)

    def __init__(self, native: NativeClient) -> None:
        self._n = native

    @classmethod
    def connect(
        cls,
        ssid: str,
        *,
        url: str | Sequence[str] | None = None,
        timeout: Seconds = 30.0,
        request_timeout: Seconds | None = None,
        result_grace: Seconds | None = None,
    ) -> PocketOption:
        """Connects with an SSID in any form people paste, and authenticates.

        ``url``: connect only there (the simulator, a proxy); default: the platform's
        servers for the account type. ``timeout``: the wait for the first connection.
        ``request_timeout``: the client's wait for each request's reply (default 10 s).
        ``result_grace``: added to a deal's expiry when waiting for its result (15 s).
        """
        urls = [url] if isinstance(url, str) else list(url or [])
        native = NativeClient.connect(
            ssid,
            urls,
            _args.seconds(timeout, "a connect timeout"),
            _args.seconds(request_timeout, "a request timeout"),
            _args.seconds(result_grace, "a result grace"),
            True,
        )
        return cls(native)

    def __repr__(self) -> str:
        kind = "demo" if self._n.is_demo() else "real"
        return f"<PocketOption {kind} account, {self._n.connection_state()}>"

    @property
    def is_connected(self) -> bool:
        return self._n.is_connected()

    @property
    def is_demo(self) -> bool:
        return self._n.is_demo()

    @property
    def connection_state(self) -> str:
        return self._n.connection_state()

    def balance(self, *, timeout: Seconds | None = None) -> Decimal:
        """The account balance."""
        return cast(Decimal, self._n.balance(_args.seconds(timeout, "a timeout"), True))

    def assets(self, *, timeout: Seconds | None = None) -> list[Asset]:
        """Every asset, sorted by symbol."""
        rows = self._n.assets(_args.seconds(timeout, "a timeout"), True)
        return [Asset._from(row) for row in rows]

    def asset(self, symbol: str, *, timeout: Seconds | None = None) -> Asset:
        """One asset (``UnknownAssetError`` suggests similar symbols)."""
        return Asset._from(self._n.asset(symbol, _args.seconds(timeout, "a timeout"), True))

    def payout(self, symbol: str, *, timeout: Seconds | None = None) -> int:
        """The payout of ``symbol`` in percent."""
        return (self.asset(symbol, timeout=timeout)).payout

    def trade(
        self,
        asset: str,
        action: str,
        amount: Amount,
        expiry: Seconds,
        *,
        timeout: Seconds | None = None,
    ) -> Deal:
        """Opens a trade (``action``: ``"call"``/``"buy"`` or ``"put"``/``"sell"``).

        Checked first (asset, expiry, amount, balance): most mistakes raise
        ``InvalidInputError`` subclasses without a request. When it returns, ``balance()``
        no longer includes the stake.
        """
        d = self._n.trade(
            asset,
            action,
            amount,
            _args.required_seconds(expiry, "an expiry"),
            _args.seconds(timeout, "a timeout"),
            True,
        )
        return Deal._from(d)

    def buy(
        self, asset: str, amount: Amount, expiry: Seconds, *, timeout: Seconds | None = None
    ) -> Deal:
        """Opens a call (the price will be higher at expiry)."""
        return self.trade(asset, "call", amount, expiry, timeout=timeout)

    def sell(
        self, asset: str, amount: Amount, expiry: Seconds, *, timeout: Seconds | None = None
    ) -> Deal:
        """Opens a put (the price will be lower at expiry)."""
        return self.trade(asset, "put", amount, expiry, timeout=timeout)

    def result(self, deal: Deal | str, *, timeout: Seconds | None = None) -> DealResult:
        """Waits for a deal's result: by default until its expiry plus the grace period.

        When it returns, ``balance()`` includes the settlement and ``DealResult.balance``
        holds the balance after it.
        """
        d = self._n.result(_args.deal_id(deal), _args.seconds(timeout, "a timeout"), True)
        return DealResult._from(d)

    def candles(
        self,
        asset: str,
        period: Seconds,
        count: int,
        *,
        end: When | None = None,
        timeout: Seconds | None = None,
    ) -> list[Candle]:
        """The last ``count`` candles of ``period`` ending now (or at ``end``), oldest first."""
        rows = self._n.candles(
            asset,
            _args.required_seconds(period, "a period"),
            count,
            _args.unix(end, "an end time"),
            _args.seconds(timeout, "a timeout"),
            True,
        )
        return list(rows)

    def ticks(
        self,
        asset: str,
        count: int | None = None,
        *,
        span: Seconds | None = None,
        end: When | None = None,
        timeout: Seconds | None = None,
    ) -> list[Tick]:
        """Tick history: the last ``count`` ticks, or every tick of the last ``span``."""
        rows = self._n.ticks(
            asset,
            count,
            _args.seconds(span, "a span"),
            _args.unix(end, "an end time"),
            _args.seconds(timeout, "a timeout"),
            True,
        )
        return [Tick._from(row) for row in rows]

    def history(
        self,
        asset: str,
        period: Seconds,
        end: When,
        span: Seconds,
        *,
        timeout: Seconds | None = None,
    ) -> list[Candle]:
        """One page of history: candles of ``period`` covering ``span`` before ``end``."""
        end_unix = _args.unix(end, "an end time")
        assert end_unix is not None
        rows = self._n.history(
            asset,
            _args.required_seconds(period, "a period"),
            end_unix,
            _args.required_seconds(span, "a span"),
            _args.seconds(timeout, "a timeout"),
            True,
        )
        return list(rows)

    def server_time(self) -> ServerTime:
        """The platform's clock as best known (no request)."""
        return ServerTime._from(self._n.server_time())

    def opened_deals(self) -> list[Deal]:
        """The open deals."""
        return [Deal._from(d) for d in self._n.opened_deals()]

    def closed_deals(self) -> list[Deal]:
        """The closed deals the client knows (the most recent 1000), oldest first."""
        return [Deal._from(d) for d in self._n.closed_deals()]

    def take_closed(self) -> list[Deal]:
        """Takes and forgets the closed deals: each call returns those closed since the last."""
        return [Deal._from(d) for d in self._n.take_closed()]

    def subscribe(
        self,
        asset: str,
        kind: str = "ticks",
        *,
        period: Seconds | None = None,
        chunk: int | None = None,
        timeout: Seconds | None = None,
    ) -> Subscription:
        """Streams ``asset``: ``kind`` is ``"ticks"`` (each tick as a one-tick candle),
        ``"candles"`` (time-aligned, ``period=``), ``"window"`` (``period=`` from the first
        tick) or ``"chunks"`` (``chunk=`` ticks each). At most 4 assets stream at once."""
        native_kind, value = _args.subscription(kind, period, chunk)
        native = self._n.subscribe(
            asset, native_kind, value, _args.seconds(timeout, "a timeout"), True
        )
        return Subscription(native)

    def open_pending(
        self,
        asset: str,
        action: str,
        amount: Amount,
        expiry: Seconds,
        *,
        at: When | None = None,
        price: float | None = None,
        min_payout: int | None = None,
        timeout: Seconds | None = None,
    ) -> PendingOrder:
        """Places a pending order opening at server time ``at`` or when the price reaches
        ``price`` (one of them)."""
        d = self._n.open_pending(
            asset,
            action,
            amount,
            _args.required_seconds(expiry, "an expiry"),
            _args.unix(at, "an opening time"),
            price,
            min_payout,
            _args.seconds(timeout, "a timeout"),
            True,
        )
        return PendingOrder._from(d)

    def cancel_pending(self, ticket: str, *, timeout: Seconds | None = None) -> None:
        """Cancels a pending order (``PendingCancelRejectedError`` if the platform refuses)."""
        self._n.cancel_pending(ticket, _args.seconds(timeout, "a timeout"), True)

    def cancel_pending_orders(
        self, tickets: Sequence[str], *, timeout: Seconds | None = None
    ) -> list[str]:
        """Cancels several pending orders; returns the tickets cancelled."""
        tickets_cancelled: list[str] = self._n.cancel_pending_orders(
            list(tickets), _args.seconds(timeout, "a timeout"), True
        )
        return tickets_cancelled

    def pending_orders(self) -> list[PendingOrder]:
        """The pending orders still waiting for their trigger, oldest first."""
        return [PendingOrder._from(d) for d in self._n.pending_orders()]

    def pending_fill(self, ticket: str, *, timeout: Seconds) -> Deal:
        """Waits for a pending order to open its deal."""
        d = self._n.pending_fill(ticket, _args.required_seconds(timeout, "a timeout"), True)
        return Deal._from(d)

    def send_raw(self, frame: str, *, timeout: Seconds | None = None) -> None:
        """Sends a text frame as is."""
        self._n.raw_send(frame, _args.seconds(timeout, "a timeout"), True)

    def send_and_wait(self, frame: str, matcher: Matcher, *, timeout: Seconds = 10.0) -> str:
        """Sends ``frame`` and waits for the first frame ``matcher`` accepts."""
        reply: str = self._n.raw_send_and_wait(
            frame, matcher._native, _args.required_seconds(timeout, "a timeout"), True
        )
        return reply

    def raw_stream(self, matcher: Matcher) -> RawStream:
        """Every inbound frame ``matcher`` accepts, from now on."""
        return RawStream(self._n.raw_stream(matcher._native))

    def keep_on_reconnect(self, frame: str) -> None:
        """Re-sends ``frame`` after every reconnect."""
        self._n.keep_on_reconnect(frame)

    def reconnect(self, *, timeout: Seconds | None = None) -> None:
        """Makes a fresh connection now."""
        self._n.reconnect(_args.seconds(timeout, "a timeout"), True)

    def wait_connected(self, *, timeout: Seconds = 30.0) -> None:
        """Waits until connected and authenticated."""
        self._n.wait_connected(_args.required_seconds(timeout, "a timeout"), True)

    def shutdown(self, *, timeout: Seconds | None = None) -> None:
        """Closes the connection and ends every stream; calls afterwards raise
        ``ClientClosedError``. Harmless twice. (The client bounds it by itself too.)"""
        self._n.shutdown(_args.seconds(timeout, "a timeout"), True)

    def __enter__(self) -> PocketOption:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
