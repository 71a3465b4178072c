"""The result classes: frozen, typed, with exact money and aware UTC datetimes
(``Candle``, which streams hand out by the thousand, is defined in Rust: ``_native``).

Money (amounts, profits, balances) is :class:`decimal.Decimal`, never a float. Instants
are :class:`datetime.datetime` in UTC. Prices are floats (market data). Every class has
``to_dict()`` (plain values, for JSON or pandas).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Literal, TypeAlias

__all__ = [
    "to_dataframe",
    "Action",
    "Outcome",
    "Asset",
    "Deal",
    "DealResult",
    "PendingOrder",
    "ServerTime",
    "Tick",
]

Action: TypeAlias = Literal["call", "put"]
Outcome: TypeAlias = Literal["win", "loss", "draw"]


def _dt(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def _opt_dt(unix: float | None) -> datetime | None:
    return None if unix is None else _dt(unix)


class _ToDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (nested results as dicts too)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            out[field.name] = value.to_dict() if isinstance(value, _ToDict) else value
        return out


@dataclass(frozen=True, slots=True)
class Asset(_ToDict):
    """A tradable asset."""

    id: int
    symbol: str
    name: str
    kind: str
    """``currency``, ``stock``, ``commodity``, ``cryptocurrency``, ``index`` or ``other``."""
    payout: int
    """Percent of the stake paid on a win, on top of the stake."""
    is_otc: bool
    is_active: bool
    """Whether trading is open now."""
    expiries: tuple[int, ...]
    """Allowed expiries in seconds."""

    @classmethod
    def _from(cls, d: dict[str, Any]) -> Asset:
        return cls(
            id=d["id"],
            symbol=d["symbol"],
            name=d["name"],
            kind=d["kind"],
            payout=d["payout"],
            is_otc=d["is_otc"],
            is_active=d["is_active"],
            expiries=tuple(d["expiries"]),
        )


@dataclass(frozen=True, slots=True)
class Tick(_ToDict):
    """One price."""

    asset: str
    time: datetime
    price: float
    timestamp: float
    """``time`` as unix seconds."""

    @classmethod
    def _from(cls, d: dict[str, Any]) -> Tick:
        return cls(asset=d["asset"], time=_dt(d["time"]), price=d["price"], timestamp=d["time"])


@dataclass(frozen=True, slots=True)
class Deal(_ToDict):
    """A trade, open or closed."""

    id: str
    asset: str
    action: Action
    amount: Decimal
    profit: Decimal
    """Open: the potential payout. Closed: the net result (negative for a loss, 0 for a draw)."""
    opened_at: datetime
    closes_at: datetime
    open_price: float
    close_price: float | None
    """``None`` while the deal is open."""
    payout_percent: int
    loss_percent: int
    request_id: str | None
    uid: int
    is_demo: bool
    option_type: int
    currency: str

    @property
    def is_closed(self) -> bool:
        """Whether the platform reported the deal's close."""
        return self.close_price is not None

    @property
    def duration(self) -> timedelta:
        """From opening to expiry."""
        return self.closes_at - self.opened_at

    @classmethod
    def _from(cls, d: dict[str, Any]) -> Deal:
        return cls(
            id=d["id"],
            asset=d["asset"],
            action=d["action"],
            amount=d["amount"],
            profit=d["profit"],
            opened_at=_dt(d["opened_at"]),
            closes_at=_dt(d["closes_at"]),
            open_price=d["open_price"],
            close_price=d["close_price"],
            payout_percent=d["payout_percent"],
            loss_percent=d["loss_percent"],
            request_id=d["request_id"],
            uid=d["uid"],
            is_demo=d["is_demo"],
            option_type=d["option_type"],
            currency=d["currency"],
        )


@dataclass(frozen=True, slots=True)
class DealResult(_ToDict):
    """A settled deal."""

    deal: Deal
    outcome: Outcome
    profit: Decimal
    """Net: ``amount * payout / 100`` on a win, ``-amount`` on a loss, 0 on a draw."""
    balance: Decimal | None
    """The balance right after the settlement (``None`` only if the platform did not report one)."""

    @property
    def is_win(self) -> bool:
        return self.outcome == "win"

    @property
    def is_loss(self) -> bool:
        return self.outcome == "loss"

    @property
    def is_draw(self) -> bool:
        return self.outcome == "draw"

    @classmethod
    def _from(cls, d: dict[str, Any]) -> DealResult:
        return cls(
            deal=Deal._from(d["deal"]),
            outcome=d["outcome"],
            profit=d["profit"],
            balance=d["balance"],
        )


@dataclass(frozen=True, slots=True)
class ServerTime(_ToDict):
    """The platform's clock as best known."""

    now: datetime
    offset: float
    """Server minus local clock, in seconds."""
    age: float | None
    """Seconds since the last sample (``None``: never sampled)."""
    stale: bool
    """True without a recent sample: ``now`` is then local time plus the last offset."""

    @property
    def timestamp(self) -> float:
        """``now`` as unix seconds."""
        return self.now.timestamp()

    @classmethod
    def _from(cls, d: dict[str, Any]) -> ServerTime:
        return cls(now=_dt(d["now"]), offset=d["offset"], age=d["age"], stale=d["stale"])


@dataclass(frozen=True, slots=True)
class PendingOrder(_ToDict):
    """A pending order the platform accepted; ``ticket`` cancels it."""

    ticket: str
    asset: str
    action: Action
    amount: Decimal
    expiry: float
    open_at: datetime | None
    """Opens at this time (or ``None``: at ``open_price``)."""
    open_price: float | None
    min_payout: int | None

    @classmethod
    def _from(cls, d: dict[str, Any]) -> PendingOrder:
        return cls(
            ticket=d["ticket"],
            asset=d["asset"],
            action=d["action"],
            amount=d["amount"],
            expiry=d["expiry"],
            open_at=_opt_dt(d["open_at"]),
            open_price=d["open_price"],
            min_payout=d["min_payout"],
        )


def to_dataframe(items: Iterable[Any]) -> Any:
    """A pandas ``DataFrame`` of results (candles, ticks, deals, …), one row each, from
    their ``to_dict()``. Needs pandas (``pip install "binary_options_tools[pandas]"``)."""
    try:
        import pandas  # type: ignore[import-untyped, unused-ignore]
    except ImportError as missing:
        raise ImportError(
            'to_dataframe needs pandas: pip install "binary_options_tools[pandas]"'
        ) from missing
    return pandas.DataFrame([item.to_dict() for item in items])
