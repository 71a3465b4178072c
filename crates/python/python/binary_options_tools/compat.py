"""Compatibility with BinaryOptionsToolsV2's Python API (its 0.2.16 release, and the
0.2.13 call forms where they differ), so a bot migrates by changing one import:

.. code-block:: python

    # from BinaryOptionsToolsV2.pocketoption import PocketOptionAsync
    from binary_options_tools.compat import PocketOptionAsync

The names, argument forms and dict result shapes are that project's: money as floats,
deals as dicts with camelCase keys (``Trade``), candles as dicts. Underneath is this
package's client, so its fixes hold: the constructor's connection is authenticated before
the first call returns, results wait for the deal's expiry plus a grace, errors are this
package's exception tree (each also the builtin ``TimeoutError``/``ValueError``/… that
the old code catches), streams raise instead of ending silently.

Features we do not have raise ``NotImplementedError`` naming them: ``try_demo``,
``get_candles_live``/``stream_candles``, ``send_binary``, and ``Validator.custom`` in
``raw_handler`` keep-alives. New code should use :class:`binary_options_tools.PocketOption`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time as _time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, AsyncIterator, Callable, Coroutine, Sequence, TypeVar

from ._client import Matcher, PocketOption as _Client, RawStream, Subscription
from ._errors import InvalidInputError, PocketOptionTimeoutError
from ._native import Candle
from ._types import Deal, DealResult

__all__ = [
    "PocketOptionAsync",
    "PocketOption",
    "Validator",
    "Trade",
    "Config",
    "RawHandler",
]

T = TypeVar("T")


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class Trade(dict):  # type: ignore[type-arg]
    """A deal as the other project's dict (camelCase keys), with attribute access and
    ``result``/``is_win``/``is_loss``/``is_draw``/``is_settled``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as missing:
            raise AttributeError(name) from missing

    @property
    def result(self) -> str | None:
        return self.get("result")

    @property
    def profit(self) -> float:
        return float(self.get("profit", 0.0))

    @property
    def is_win(self) -> bool:
        return self.get("result") == "win"

    @property
    def is_loss(self) -> bool:
        return self.get("result") == "loss"

    @property
    def is_draw(self) -> bool:
        return self.get("result") == "draw"

    @property
    def is_settled(self) -> bool:
        return "result" in self

    def to_dict(self) -> dict[str, Any]:
        return dict(self)

    @classmethod
    def of(cls, deal: Deal, result: str | None = None) -> Trade:
        opened = deal.opened_at.timestamp()
        closes = deal.closes_at.timestamp()
        shape: dict[str, Any] = {
            "id": deal.id,
            "asset": deal.asset,
            "command": 0 if deal.action == "call" else 1,
            "isDemo": int(deal.is_demo),
            "openTime": deal.opened_at.strftime("%Y-%m-%d %H:%M:%S"),
            "closeTime": deal.closes_at.strftime("%Y-%m-%d %H:%M:%S"),
            "openTimestamp": int(opened),
            "closeTimestamp": int(closes),
            "openMs": int(round((opened % 1) * 1000)) % 1000,
            "closeMs": int(round((closes % 1) * 1000)) % 1000,
            "amount": float(deal.amount),
            "profit": float(deal.profit),
            "percentProfit": deal.payout_percent,
            "percentLoss": deal.loss_percent,
            "openPrice": deal.open_price,
            "closePrice": deal.close_price if deal.close_price is not None else 0.0,
            "uid": deal.uid,
            "requestId": deal.request_id,
            "optionType": deal.option_type,
            "currency": deal.currency,
        }
        if result is not None:
            shape["result"] = result
        return cls(shape)


def _candle(c: Candle) -> dict[str, Any]:
    return {
        "time": int(c.timestamp),
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
    }


def _stream_candle(c: Candle) -> dict[str, Any]:
    return {
        "symbol": c.asset,
        "timestamp": c.timestamp,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "volume": c.ticks,
        "is_closed": True,
    }


def _seconds(value: int | float | timedelta | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


class Config:
    """The other project's ``Config``: the fields this client uses are
    ``connection_initialization_timeout_secs`` (connect), ``timeout_secs`` (requests),
    ``urls`` and ``extra_duration`` (added to result waits); the rest are accepted and
    ignored (this client's reconnect policy is its own)."""

    def __init__(self, **fields: Any) -> None:
        self.connection_initialization_timeout_secs: float = 60.0
        self.timeout_secs: float = 30.0
        self.urls: list[str] = []
        self.extra_duration: float = 5.0
        self.extra: dict[str, Any] = {}
        for key, value in fields.items():
            if key in ("connection_initialization_timeout_secs", "timeout_secs", "urls", "extra_duration"):
                setattr(self, key, value)
            else:
                self.extra[key] = value

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> Config:
        return cls(**fields)

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls(**json.loads(text))

    @classmethod
    def of(cls, config: Config | dict[str, Any] | str | None) -> Config:
        if config is None:
            return cls()
        if isinstance(config, Config):
            return config
        if isinstance(config, dict):
            return cls.from_dict(config)
        if isinstance(config, str):
            return cls.from_json(config)
        fields = {k: getattr(config, k) for k in dir(config) if not k.startswith("_")}
        return cls(**{k: v for k, v in fields.items() if not callable(v)})


class Validator:
    """The other project's raw-frame validator."""

    def __init__(self, check: Callable[[str], bool] | None = None, native: Matcher | None = None) -> None:
        self._check = check or (lambda _msg: True)
        self._native = native if check is not None or native is not None else Matcher.contains("")

    def check(self, msg: str) -> bool:
        return bool(self._check(msg))

    @staticmethod
    def regex(pattern: str) -> Validator:
        import re

        compiled = re.compile(pattern)
        return Validator(lambda m: compiled.search(m) is not None, Matcher.regex(pattern))

    @staticmethod
    def starts_with(prefix: str) -> Validator:
        return Validator(lambda m: m.startswith(prefix), Matcher.starts_with(prefix))

    @staticmethod
    def ends_with(suffix: str) -> Validator:
        return Validator(lambda m: m.endswith(suffix), Matcher.ends_with(suffix))

    @staticmethod
    def contains(needle: str) -> Validator:
        return Validator(lambda m: needle in m, Matcher.contains(needle))

    @staticmethod
    def ne(validator: Validator) -> Validator:
        native = None if validator._native is None else ~validator._native
        return Validator(lambda m: not validator.check(m), native)

    @staticmethod
    def all(validators: Sequence[Validator]) -> Validator:
        natives = [v._native for v in validators]
        native = None
        if natives and all(n is not None for n in natives):
            native = natives[0]
            for other in natives[1:]:
                native = native & other  # type: ignore[operator]
        return Validator(lambda m: all(v.check(m) for v in validators), native)

    @staticmethod
    def any(validators: Sequence[Validator]) -> Validator:
        natives = [v._native for v in validators]
        native = None
        if natives and all(n is not None for n in natives):
            native = natives[0]
            for other in natives[1:]:
                native = native | other  # type: ignore[operator]
        return Validator(lambda m: any(v.check(m) for v in validators), native)

    @staticmethod
    def custom(predicate: Callable[[str], bool]) -> Validator:
        """Any Python predicate (frames are filtered on the Python side)."""
        return Validator(predicate, None)

    def _matcher(self) -> Matcher:
        # A custom predicate sees every frame and filters in Python.
        return self._native if self._native is not None else Matcher.contains("")


class _Stream:
    """An async iterator of dicts over a subscription; ``unsubscribe`` closes it."""

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return _stream_candle(await self._sub.__anext__())

    async def __aenter__(self) -> _Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sub.close()

    def close(self) -> None:
        self._sub.close()


class RawHandler:
    """The other project's raw handler: frames a validator accepts."""

    _ids = 0

    def __init__(self, client: _Client, validator: Validator, keep_alive: str | None) -> None:
        RawHandler._ids += 1
        self._id = RawHandler._ids
        self._client = client
        self._validator = validator
        self._stream: RawStream = client.raw_stream(validator._matcher())
        if keep_alive is not None:
            client.keep_on_reconnect(keep_alive)

    def id(self) -> int:
        return self._id

    async def send_text(self, message: str) -> None:
        await self._client.send_raw(message)

    async def send_binary(self, data: bytes) -> None:
        raise NotImplementedError("RawHandler.send_binary: the platform takes text frames only here")

    async def wait_next(self, timeout: float | None = None) -> str:
        deadline = None if timeout is None else _time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - _time.monotonic())
            frame = await self._stream.next(timeout=left)
            if frame is None:
                raise StopAsyncIteration
            if self._validator.check(frame):
                return frame

    async def send_and_wait(self, message: str, timeout: float | None = None) -> str:
        await self.send_text(message)
        return await self.wait_next(timeout)

    async def subscribe(self) -> AsyncIterator[str]:
        async for frame in self._stream:
            if self._validator.check(frame):
                yield frame

    def close(self) -> None:
        self._stream.close()


class PocketOptionAsync:
    """The other project's async client, on this package's client.

    ``PocketOptionAsync(ssid, url=None, config=None)`` connects on first use (or in
    ``async with``), and returns only once authenticated.
    """

    def __init__(self, ssid: str, url: str | None = None, config: Any = None, **_: Any) -> None:
        self._ssid = ssid
        self._config = Config.of(config)
        self._urls = ([url] if url else []) + list(self._config.urls)
        self._client: _Client | None = None
        self._lock: asyncio.Lock | None = None
        self._streams: dict[str, list[Subscription]] = {}

    async def _c(self) -> _Client:
        if self._client is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._client is None:
                    self._client = await _Client.connect(
                        self._ssid,
                        url=self._urls or None,
                        timeout=self._config.connection_initialization_timeout_secs,
                        request_timeout=self._config.timeout_secs,
                        result_grace=self._config.extra_duration,
                    )
        return self._client

    async def __aenter__(self) -> PocketOptionAsync:
        await self.wait_for_assets()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    @classmethod
    async def try_demo(cls, token: str | None = None) -> PocketOptionAsync:
        raise NotImplementedError("try_demo: guest demo sessions are not supported; use an SSID or the Simulator")

    def is_ssid_valid(self) -> bool:
        from ._native import NativeClient  # noqa: F401 (the parser lives in Rust)

        try:
            text = self._ssid.strip()
            return bool(text) and ("session" in text or "token" in text)
        except Exception:
            return False

    def is_demo(self) -> bool:
        if self._client is not None:
            return self._client.is_demo
        return '"isDemo":1' in self._ssid.replace(" ", "")

    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def connect(self) -> None:
        await self._c()

    async def disconnect(self) -> None:
        await self.shutdown()

    async def reconnect(self) -> None:
        await (await self._c()).reconnect()

    async def shutdown(self) -> None:
        if self._client is not None:
            await self._client.shutdown()

    async def wait_for_assets(self, timeout: float = 60.0) -> None:
        await (await self._c()).assets(timeout=timeout)

    # Trading.

    async def _trade(self, action: str, asset: str, amount: float, time: int, check_win: bool) -> tuple[str, Trade]:
        client = await self._c()
        deal = await client.trade(asset, action, amount, time)
        if check_win:
            return deal.id, await self.check_win(deal.id)
        return deal.id, Trade.of(deal)

    async def buy(self, asset: str, amount: float, time: int, check_win: bool = False) -> tuple[str, Trade]:
        return await self._trade("call", asset, amount, time, check_win)

    async def sell(self, asset: str, amount: float, time: int, check_win: bool = False) -> tuple[str, Trade]:
        return await self._trade("put", asset, amount, time, check_win)

    async def check_win(self, id: str, timeout_seconds: int | None = None) -> Trade:
        """The settled deal with ``"result"``. ``timeout_seconds=None``: the deal's expiry
        plus the grace (the old default was a fixed 300 s); 0: wait without limit."""
        client = await self._c()
        timeout: float | None = None if timeout_seconds is None else float(timeout_seconds)
        if timeout == 0:
            timeout = 10.0 * 365 * 86400
        result: DealResult = await client.result(id, timeout=timeout)
        return Trade.of(result.deal, result.outcome)

    async def get_deal_end_time(self, trade_id: str) -> int | None:
        client = await self._c()
        for deal in client.opened_deals() + client.closed_deals():
            if deal.id == trade_id:
                return int(deal.closes_at.timestamp())
        return None

    async def balance(self) -> float:
        return float(await (await self._c()).balance())

    async def opened_deals(self) -> list[str]:
        return [d.id for d in (await self._c()).opened_deals()]

    async def closed_deals(self) -> list[str]:
        return [d.id for d in (await self._c()).closed_deals()]

    async def get_opened_deal(self, id: str) -> Trade | None:
        return next((Trade.of(d) for d in (await self._c()).opened_deals() if d.id == id), None)

    async def get_closed_deal(self, id: str) -> Trade | None:
        for d in (await self._c()).closed_deals():
            if d.id == id:
                outcome = "win" if d.profit > 0 else "loss" if d.profit < 0 else "draw"
                return Trade.of(d, outcome)
        return None

    async def clear_closed_deals(self) -> None:
        (await self._c()).take_closed()

    # Market data.

    async def payouts(self) -> dict[str, int]:
        return {a.symbol: a.payout for a in await (await self._c()).assets()}

    async def payout(self, asset: str | list[str] | None = None) -> Any:
        """0.2.16: ``payout(asset) -> int | None``; 0.2.13: ``payout()`` -> dict,
        ``payout([...])`` -> list."""
        payouts = await self.payouts()
        if asset is None:
            return payouts
        if isinstance(asset, list):
            return [payouts.get(a) for a in asset]
        return payouts.get(asset)

    async def active_assets(self) -> list[dict[str, Any]]:
        return [
            {
                "id": a.id,
                "symbol": a.symbol,
                "name": a.name,
                "asset_type": a.kind,
                "payout": a.payout,
                "is_otc": a.is_otc,
                "is_active": a.is_active,
                "allowed_candles": list(a.expiries),
            }
            for a in await (await self._c()).assets()
            if a.is_active
        ]

    async def candles(
        self, asset: str, period: int, count: int = 100, end_time: int | float | datetime | None = None
    ) -> list[dict[str, Any]]:
        client = await self._c()
        rows = await client.candles(asset, period, count, end=end_time)
        return [_candle(c) for c in rows[-count:]]

    async def get_candles(self, asset: str, period: int, offset: int) -> list[dict[str, Any]]:
        """Deprecated upstream; ``offset`` is the number of candles (0.2.16)."""
        return await self.candles(asset, period, offset)

    async def get_candles_advanced(self, asset: str, period: int, offset: int, time: int | float) -> list[dict[str, Any]]:
        return await self.candles(asset, period, offset, end_time=time)

    async def history(self, asset: str, period: int) -> list[dict[str, Any]]:
        """The recent candles of ``asset`` (upstream: the ones pushed on subscription)."""
        return await self.candles(asset, period, 100)

    async def ticks(self, asset: str, seconds: int) -> list[tuple[int, float]]:
        ticks = await (await self._c()).ticks(asset, span=seconds)
        return [(int(t.timestamp), t.price) for t in ticks]

    async def get_ticks(self, asset: str, lookback_seconds: int) -> list[tuple[int, float]]:
        return await self.ticks(asset, lookback_seconds)

    async def compile_candles(self, asset: str, custom_period: int, lookback_period: int) -> list[dict[str, Any]]:
        """Candles of any period built from tick history."""
        ticks = await (await self._c()).ticks(asset, span=lookback_period)
        out: list[dict[str, Any]] = []
        for t in ticks:
            start = int(t.timestamp // custom_period * custom_period)
            if out and out[-1]["time"] == start:
                row = out[-1]
                row["high"] = max(row["high"], t.price)
                row["low"] = min(row["low"], t.price)
                row["close"] = t.price
            else:
                out.append({"time": start, "open": t.price, "high": t.price, "low": t.price, "close": t.price})
        return out

    async def get_server_time(self) -> int:
        return int((await self._c()).server_time().timestamp)

    async def get_candles_live(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("get_candles_live: use subscribe_symbol_time_aligned with candles(...) for history")

    async def stream_candles(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("stream_candles: use subscribe_symbol_time_aligned with candles(...) for history")

    # Subscriptions.

    async def _subscribe(self, asset: str, kind: str, period: float | None = None, chunk: int | None = None) -> _Stream:
        sub = await (await self._c()).subscribe(asset, kind, period=period, chunk=chunk)
        self._streams.setdefault(asset, []).append(sub)
        return _Stream(sub)

    async def subscribe_symbol(self, asset: str) -> _Stream:
        return await self._subscribe(asset, "ticks")

    async def subscribe_symbol_chunked(self, asset: str, chunk_size: int) -> _Stream:
        return await self._subscribe(asset, "chunks", chunk=chunk_size)

    async def subscribe_symbol_timed(self, asset: str, time: timedelta) -> _Stream:
        return await self._subscribe(asset, "window", period=_seconds(time))

    async def subscribe_symbol_time_aligned(self, asset: str, time: timedelta) -> _Stream:
        return await self._subscribe(asset, "candles", period=_seconds(time))

    async def subscribe_ticks(
        self,
        asset: str,
        *,
        chunk_size: int | None = None,
        interval: timedelta | int | float | None = None,
        aligned: bool = False,
    ) -> _Stream:
        if chunk_size is not None:
            return await self.subscribe_symbol_chunked(asset, chunk_size)
        if interval is not None:
            kind = "candles" if aligned else "window"
            return await self._subscribe(asset, kind, period=_seconds(interval))
        return await self.subscribe_symbol(asset)

    async def unsubscribe(self, asset: str) -> None:
        """Closes every stream of ``asset`` opened through this object."""
        for sub in self._streams.pop(asset, []):
            sub.close()

    # Raw access.

    async def send_raw(self, message: str) -> None:
        await (await self._c()).send_raw(message)

    async def send_raw_message(self, message: str) -> None:
        await self.send_raw(message)

    async def subscribe_raw(self) -> RawStream:
        return (await self._c()).raw_stream(Matcher.contains(""))

    async def raw_handler(self, validator: Validator, keep_alive: str | None = None) -> RawHandler:
        return RawHandler(await self._c(), validator, keep_alive)

    async def create_raw_handler(self, validator: Validator, keep_alive: str | None = None) -> RawHandler:
        return await self.raw_handler(validator, keep_alive)

    async def raw_request(
        self, message: str, validator: Validator, timeout: timedelta | float | None = None, retry: bool = False
    ) -> str:
        """Sends ``message`` and returns the first frame ``validator`` accepts
        (``retry`` is accepted: orders are never re-sent by this client)."""
        seconds = _seconds(timeout) or 30.0
        handler = await self.raw_handler(validator)
        try:
            return await handler.send_and_wait(message, timeout=seconds)
        finally:
            handler.close()

    async def create_raw_order(self, message: str, validator: Validator) -> str:
        return await self.raw_request(message, validator)

    async def raw_stream(
        self, message: str, validator: Validator, timeout: timedelta | float | None = None
    ) -> AsyncIterator[str]:
        handler = await self.raw_handler(validator)
        await handler.send_text(message)
        seconds = _seconds(timeout)

        async def frames() -> AsyncIterator[str]:
            try:
                while True:
                    yield await handler.wait_next(seconds)
            except StopAsyncIteration:
                return
            finally:
                handler.close()

        return frames()

    # Pending orders.

    async def open_pending_order(
        self,
        open_type: int | None = None,
        amount: float | None = None,
        asset: str | None = None,
        open_time: str | int | None = None,
        open_price: float | None = None,
        timeframe: int | None = None,
        min_payout: int | None = None,
        command: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """0.2.16 keyword form (0.2.13's positional order is the same)."""
        if asset is None or amount is None or timeframe is None or command is None:
            raise InvalidInputError("open_pending_order needs asset, amount, timeframe and command")
        client = await self._c()
        action = "call" if int(command) == 0 else "put"
        at: float | None = None
        price: float | None = None
        if open_type in (None, 0):
            if isinstance(open_time, str):
                at = datetime.fromisoformat(open_time.replace("Z", "+00:00")).replace(
                    tzinfo=timezone.utc
                ).timestamp()
            elif open_time is not None:
                at = float(open_time)
        else:
            price = open_price
        order = await client.open_pending(
            asset, action, amount, timeframe, at=at, price=price, min_payout=min_payout
        )
        return {
            "ticket": order.ticket,
            "asset": order.asset,
            "command": command,
            "amount": float(order.amount),
            "timeframe": int(order.expiry),
            "openType": 0 if order.open_at is not None else 1,
            "openTime": None if order.open_at is None else order.open_at.strftime("%Y-%m-%d %H:%M:%S"),
            "openPrice": order.open_price,
            "minPayout": order.min_payout,
        }

    async def cancel_pending_order(self, ticket: str) -> dict[str, Any]:
        await (await self._c()).cancel_pending(ticket)
        return {"ticket": ticket, "cancelled": True}

    async def cancel_pending_orders(self, tickets: list[str]) -> dict[str, Any]:
        cancelled = await (await self._c()).cancel_pending_orders(tickets)
        return {"cancelled": cancelled}

    async def get_pending_deals(self) -> list[dict[str, Any]]:
        return [
            {"ticket": o.ticket, "asset": o.asset, "amount": float(o.amount), "command": 0 if o.action == "call" else 1}
            for o in (await self._c()).pending_orders()
        ]


class _LoopThread:
    """One asyncio loop on a daemon thread for the sync compat client (as the other
    project's sync class works; new code should use binary_options_tools.sync, which
    blocks in Rust and honours Ctrl-C)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="bot-compat-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


class _SyncIter:
    def __init__(self, runner: _LoopThread, aiter: Any) -> None:
        self._runner = runner
        self._aiter = aiter

    def __iter__(self) -> _SyncIter:
        return self

    def __next__(self) -> Any:
        try:
            return self._runner.run(self._aiter.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def __enter__(self) -> _SyncIter:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._aiter, "close", None)
        if callable(close):
            close()


class PocketOption:
    """The other project's sync client: the same names as :class:`PocketOptionAsync`,
    blocking. It connects (and waits for the assets) in the constructor."""

    def __init__(self, ssid: str, url: str | None = None, config: Any = None, **kwargs: Any) -> None:
        self._runner = _LoopThread()
        self._client = PocketOptionAsync(ssid, url, config, **kwargs)
        self._runner.run(self._client.wait_for_assets())

    def __enter__(self) -> PocketOption:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._runner.run(self._client.shutdown())
        finally:
            self._runner.stop()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target) or not asyncio.iscoroutinefunction(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            value = self._runner.run(target(*args, **kwargs))
            if hasattr(value, "__anext__"):
                return _SyncIter(self._runner, value)
            if isinstance(value, _Stream) or isinstance(value, RawStream):
                return _SyncIter(self._runner, value)
            return value

        return call

    def is_demo(self) -> bool:
        return self._client.is_demo()

    def is_connected(self) -> bool:
        return self._client.is_connected()


