"""The simulator, for paper trading and tests."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Sequence

from . import _args
from ._args import Seconds
from ._native import NativeSimulator

__all__ = ["Simulator"]

MALFORMED_KINDS = (
    "garbage-text",
    "invalid-json",
    "binary-without-header",
    "header-without-attachment",
    "too-many-attachments",
    "unknown-event",
)


class Simulator:
    """A PocketOption simulator on a free loopback port, in this process.

    It speaks the platform's real protocol. Prices are a deterministic function of
    ``seed``; ``pin`` forces them (and so trade outcomes). ``time_scale`` divides the
    real length of every deal (60 s deals close after 1 s with ``time_scale=60``).
    ``reject_sessions`` rejects every SSID (to test the error path); ``history_prices``
    answers history requests with price points (what ``ticks()`` needs) instead of
    candles. Use ``with Simulator() as sim:`` or call :meth:`stop`.
    """

    __slots__ = ("_native",)

    def __init__(
        self,
        *,
        seed: int = 1,
        tick_interval: Seconds = 0.5,
        time_scale: float = 1.0,
        demo_balance: float | None = None,
        max_open_deals: int | None = None,
        ping_interval: Seconds | None = None,
        ping_timeout: Seconds | None = None,
        reject_sessions: bool = False,
        history_prices: bool = False,
    ) -> None:
        self._native = NativeSimulator(
            seed,
            _args.required_seconds(tick_interval, "a tick interval"),
            time_scale,
            demo_balance,
            max_open_deals,
            _args.seconds(ping_interval, "a ping interval"),
            _args.seconds(ping_timeout, "a ping timeout"),
            reject_sessions,
            history_prices,
        )

    def __repr__(self) -> str:
        return f"<Simulator {self.url} seed={self.seed}>"

    @property
    def url(self) -> str:
        """The WebSocket URL to pass as ``url=``."""
        return self._native.url

    @property
    def port(self) -> int:
        return self._native.port

    @property
    def seed(self) -> int:
        return self._native.seed

    @staticmethod
    def ssid(uid: int = 1, *, session: str = "simulator-session", demo: bool = True) -> str:
        """An SSID the simulator accepts (one account per ``uid``)."""
        payload = {"session": session, "isDemo": int(demo), "uid": uid, "platform": 2}
        return "42" + json.dumps(["auth", payload], separators=(",", ":"))

    def assets(self) -> list[str]:
        """The symbols of the catalog."""
        return self._native.asset_symbols()

    def price(self, asset: str) -> float:
        """The price of ``asset`` now."""
        return self._native.current_price(asset)

    def pin(self, asset: str, price: float) -> None:
        """Holds ``asset``'s price at ``price`` until :meth:`unpin` (forces outcomes)."""
        self._native.pin(asset, price)

    def unpin(self, asset: str) -> None:
        self._native.unpin(asset)

    def set_asset_active(self, asset: str, active: bool) -> None:
        """Opens or closes ``asset`` for trading."""
        self._native.set_asset_active(asset, active)

    def set_payout(self, asset: str, payout: int) -> None:
        self._native.set_payout(asset, payout)

    def accept_sessions(self, sessions: Sequence[str] | None = None) -> None:
        """Accepts every session (``None``), none (``[]``), or only these tokens."""
        self._native.set_accepted_sessions(None if sessions is None else list(sessions))

    def balance(self, uid: int = 1, *, demo: bool = True) -> float | None:
        """The simulator's view of an account's balance (``None`` before its first auth)."""
        account = self._native.account(uid)
        if account is None:
            return None
        return account["demo_balance" if demo else "real_balance"]

    def set_balance(self, uid: int, amount: float, *, demo: bool = True) -> None:
        self._native.set_balance(uid, demo, amount)

    @property
    def open_deal_count(self) -> int:
        return self._native.open_deal_count()

    @property
    def closed_deal_count(self) -> int:
        return self._native.closed_deal_count()

    @property
    def active_connections(self) -> int:
        return self._native.active_connections()

    @property
    def connections_accepted(self) -> int:
        return self._native.connections_accepted()

    def events_received(self, event: str) -> int:
        return self._native.events_received(event)

    def wait_for_connections(self, n: int, *, timeout: Seconds = 10.0) -> None:
        self._native.wait_for_connections(n, _args.required_seconds(timeout, "a timeout"))

    # Faults.

    def drop_connections(self) -> None:
        """Drops every connection without a close frame (clients reconnect)."""
        self._native.drop_connections()

    def set_silent(self, silent: bool) -> None:
        """While on, says nothing at all but keeps connections open."""
        self._native.set_silent(silent)

    def refuse_connections_for(self, duration: Seconds) -> None:
        self._native.refuse_connections_for(_args.required_seconds(duration, "a duration"))

    def set_reply_delay(self, delay: Seconds) -> None:
        self._native.set_reply_delay(_args.required_seconds(delay, "a delay"))

    def send_malformed(self, kind: str) -> int:
        """Sends a malformed frame (one of ``MALFORMED_KINDS``) to every connection."""
        return self._native.send_malformed(kind)

    def restart(self, downtime: Seconds = 0.5) -> None:
        """Drops everything, stays down for ``downtime``, listens again on the same port."""
        self._native.restart(_args.required_seconds(downtime, "a downtime"))

    def stop(self) -> None:
        """Stops the simulator (harmless twice)."""
        self._native.stop()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
