"""The async client: ``client = await PocketOption.connect(ssid)``."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from types import TracebackType
from typing import Any, Sequence, cast, Union

from . import _args
from ._args import Seconds, When
from ._native import NativeClient, NativeMatcher, NativeRawStream, NativeSubscription
from ._native import Candle
from ._types import Asset, Deal, DealResult, PendingOrder, ServerTime, Tick

__all__ = ["PocketOption", "Subscription", "RawStream", "Matcher", "Amount"]

BATCH = 1024
"""Candles taken from Rust at most per crossing (those already waiting; never a wait)."""

Amount = Union[Decimal, int, str, float]
"""Money: a ``Decimal`` (best), an ``int``, a ``str``, or a ``float`` (read as its shortest text)."""


class Matcher:
    """Picks raw frames: ``Matcher.event("successupdateBalance")``, ``.starts_with(...)``,
    ``.ends_with(...)``, ``.contains(...)``, ``.regex(...)``; combine with ``&``, ``|``, ``~``."""

    __slots__ = ("_native",)

    def __init__(self, native: NativeMatcher) -> None:
        self._native = native

    @classmethod
    def starts_with(cls, text: str) -> Matcher:
        return cls(NativeMatcher.build("starts_with", text))

    @classmethod
    def ends_with(cls, text: str) -> Matcher:
        return cls(NativeMatcher.build("ends_with", text))

    @classmethod
    def contains(cls, text: str) -> Matcher:
        return cls(NativeMatcher.build("contains", text))

    @classmethod
    def event(cls, name: str) -> Matcher:
        """Frames of the event ``name`` (``42["name",…]``, two-step events included)."""
        return cls(NativeMatcher.build("event", name))

    @classmethod
    def regex(cls, pattern: str) -> Matcher:
        return cls(NativeMatcher.build("regex", pattern))

    def __and__(self, other: Matcher) -> Matcher:
        return Matcher(NativeMatcher.all([self._native, other._native]))

    def __or__(self, other: Matcher) -> Matcher:
        return Matcher(NativeMatcher.any([self._native, other._native]))

    def __invert__(self) -> Matcher:
        return Matcher(self._native.negate())

    def matches(self, frame: str) -> bool:
        return self._native.matches(frame)


class Subscription:
    """A live stream of candles: ``async for candle in sub`` (and ``async with``).

    It survives reconnects. It ends (``StopAsyncIteration``) only when you close it; when
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

    async def next(self, *, timeout: Seconds | None = None) -> Candle | None:
        """The next candle, or ``None`` once closed; ``timeout`` raises ``TimeoutError``."""
        if not self._ready:
            batch = await self._native.next_batch(BATCH, _args.seconds(timeout, "a timeout"), False)
            if batch is None:
                return None
            self._ready.extend(batch)
        return self._ready.popleft()

    def close(self) -> None:
        """Unsubscribes this stream (others of the same asset go on)."""
        self._ready.clear()
        self._native.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Candle:
        if not self._ready:
            batch = await self._native.next_batch(BATCH, None, False)
            if batch is None:
                raise StopAsyncIteration
            self._ready.extend(batch)
        return self._ready.popleft()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RawStream:
    """Raw frames a :class:`Matcher` accepts: ``async for frame in stream``."""

    __slots__ = ("_native",)

    def __init__(self, native: NativeRawStream) -> None:
        self._native = native

    async def next(self, *, timeout: Seconds | None = None) -> str | None:
        return cast("str | None", await self._native.next(_args.seconds(timeout, "a timeout"), False))

    def close(self) -> None:
        self._native.close()

    def __aiter__(self) -> RawStream:
        return self

    async def __anext__(self) -> str:
        frame = await self._native.next(None, False)
        if frame is None:
            raise StopAsyncIteration
        return cast(str, frame)

    async def __aenter__(self) -> RawStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class PocketOption:
    """The async PocketOption client.

    ``client = await PocketOption.connect(ssid)`` returns once authenticated (a rejected
    session raises ``AuthenticationError`` at once). Every waiting method takes
    ``timeout=`` (seconds or a ``timedelta``); cancelling an awaiting call cancels it
    cleanly (an order already sent is still tracked). Use ``async with`` or
    :meth:`shutdown` to close it.
    """

    __slots__ = ("_n",)

    def __init__(self, native: NativeClient) -> None:
        self._n = native

    @classmethod
    async def connect(
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
        native = await NativeClient.connect(
            ssid,
            urls,
            _args.seconds(timeout, "a connect timeout"),
            _args.seconds(request_timeout, "a request timeout"),
            _args.seconds(result_grace, "a result grace"),
            False,
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

    async def balance(self, *, timeout: Seconds | None = None) -> Decimal:
        """The account balance."""
        return cast(Decimal, await self._n.balance(_args.seconds(timeout, "a timeout"), False))

    async def assets(self, *, timeout: Seconds | None = None) -> list[Asset]:
        """Every asset, sorted by symbol."""
        rows = await self._n.assets(_args.seconds(timeout, "a timeout"), False)
        return [Asset._from(row) for row in rows]

    async def asset(self, symbol: str, *, timeout: Seconds | None = None) -> Asset:
        """One asset (``UnknownAssetError`` suggests similar symbols)."""
        return Asset._from(await self._n.asset(symbol, _args.seconds(timeout, "a timeout"), False))

    async def payout(self, symbol: str, *, timeout: Seconds | None = None) -> int:
        """The payout of ``symbol`` in percent."""
        return (await self.asset(symbol, timeout=timeout)).payout

    async def trade(
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
        d = await self._n.trade(
            asset,
            action,
            amount,
            _args.required_seconds(expiry, "an expiry"),
            _args.seconds(timeout, "a timeout"),
            False,
        )
        return Deal._from(d)

    async def buy(
        self, asset: str, amount: Amount, expiry: Seconds, *, timeout: Seconds | None = None
    ) -> Deal:
        """Opens a call (the price will be higher at expiry)."""
        return await self.trade(asset, "call", amount, expiry, timeout=timeout)

    async def sell(
        self, asset: str, amount: Amount, expiry: Seconds, *, timeout: Seconds | None = None
    ) -> Deal:
        """Opens a put (the price will be lower at expiry)."""
        return await self.trade(asset, "put", amount, expiry, timeout=timeout)

    async def result(self, deal: Deal | str, *, timeout: Seconds | None = None) -> DealResult:
        """Waits for a deal's result: by default until its expiry plus the grace period.

        When it returns, ``balance()`` includes the settlement and ``DealResult.balance``
        holds the balance after it.
        """
        d = await self._n.result(_args.deal_id(deal), _args.seconds(timeout, "a timeout"), False)
        return DealResult._from(d)

    async def candles(
        self,
        asset: str,
        period: Seconds,
        count: int,
        *,
        end: When | None = None,
        timeout: Seconds | None = None,
    ) -> list[Candle]:
        """The last ``count`` candles of ``period`` ending now (or at ``end``), oldest first."""
        rows = await self._n.candles(
            asset,
            _args.required_seconds(period, "a period"),
            count,
            _args.unix(end, "an end time"),
            _args.seconds(timeout, "a timeout"),
            False,
        )
        return list(rows)

    async def ticks(
        self,
        asset: str,
        count: int | None = None,
        *,
        span: Seconds | None = None,
        end: When | None = None,
        timeout: Seconds | None = None,
    ) -> list[Tick]:
        """Tick history: the last ``count`` ticks, or every tick of the last ``span``."""
        rows = await self._n.ticks(
            asset,
            count,
            _args.seconds(span, "a span"),
            _args.unix(end, "an end time"),
            _args.seconds(timeout, "a timeout"),
            False,
        )
        return [Tick._from(row) for row in rows]

    async def history(
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
        rows = await self._n.history(
            asset,
            _args.required_seconds(period, "a period"),
            end_unix,
            _args.required_seconds(span, "a span"),
            _args.seconds(timeout, "a timeout"),
            False,
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

    async def subscribe(
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
        native = await self._n.subscribe(
            asset, native_kind, value, _args.seconds(timeout, "a timeout"), False
        )
        return Subscription(native)

    async def open_pending(
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
        d = await self._n.open_pending(
            asset,
            action,
            amount,
            _args.required_seconds(expiry, "an expiry"),
            _args.unix(at, "an opening time"),
            price,
            min_payout,
            _args.seconds(timeout, "a timeout"),
            False,
        )
        return PendingOrder._from(d)

    async def cancel_pending(self, ticket: str, *, timeout: Seconds | None = None) -> None:
        """Cancels a pending order (``PendingCancelRejectedError`` if the platform refuses)."""
        await self._n.cancel_pending(ticket, _args.seconds(timeout, "a timeout"), False)

    async def cancel_pending_orders(
        self, tickets: Sequence[str], *, timeout: Seconds | None = None
    ) -> list[str]:
        """Cancels several pending orders; returns the tickets cancelled."""
        tickets_cancelled: list[str] = await self._n.cancel_pending_orders(
            list(tickets), _args.seconds(timeout, "a timeout"), False
        )
        return tickets_cancelled

    def pending_orders(self) -> list[PendingOrder]:
        """The pending orders still waiting for their trigger, oldest first."""
        return [PendingOrder._from(d) for d in self._n.pending_orders()]

    async def pending_fill(self, ticket: str, *, timeout: Seconds) -> Deal:
        """Waits for a pending order to open its deal."""
        d = await self._n.pending_fill(ticket, _args.required_seconds(timeout, "a timeout"), False)
        return Deal._from(d)

    async def send_raw(self, frame: str, *, timeout: Seconds | None = None) -> None:
        """Sends a text frame as is."""
        await self._n.raw_send(frame, _args.seconds(timeout, "a timeout"), False)

    async def send_and_wait(self, frame: str, matcher: Matcher, *, timeout: Seconds = 10.0) -> str:
        """Sends ``frame`` and waits for the first frame ``matcher`` accepts."""
        reply: str = await self._n.raw_send_and_wait(
            frame, matcher._native, _args.required_seconds(timeout, "a timeout"), False
        )
        return reply

    def raw_stream(self, matcher: Matcher) -> RawStream:
        """Every inbound frame ``matcher`` accepts, from now on."""
        return RawStream(self._n.raw_stream(matcher._native))

    def keep_on_reconnect(self, frame: str) -> None:
        """Re-sends ``frame`` after every reconnect."""
        self._n.keep_on_reconnect(frame)

    async def reconnect(self, *, timeout: Seconds | None = None) -> None:
        """Makes a fresh connection now."""
        await self._n.reconnect(_args.seconds(timeout, "a timeout"), False)

    async def wait_connected(self, *, timeout: Seconds = 30.0) -> None:
        """Waits until connected and authenticated."""
        await self._n.wait_connected(_args.required_seconds(timeout, "a timeout"), False)

    async def shutdown(self, *, timeout: Seconds | None = None) -> None:
        """Closes the connection and ends every stream; calls afterwards raise
        ``ClientClosedError``. Harmless twice. (The client bounds it by itself too.)"""
        await self._n.shutdown(_args.seconds(timeout, "a timeout"), False)

    async def __aenter__(self) -> PocketOption:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()
