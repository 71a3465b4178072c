"""Argument conversions shared by the async and the sync client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Union

from ._errors import InvalidInputError

Seconds = Union[int, float, timedelta]
When = Union[datetime, int, float]


def seconds(value: Seconds | None, what: str) -> float | None:
    """Seconds from a number or a ``timedelta``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} of {value!r}: use seconds or a timedelta")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    raise InvalidInputError(f"{what} of {value!r}: use seconds or a timedelta")


def required_seconds(value: Seconds, what: str) -> float:
    out = seconds(value, what)
    if out is None:
        raise InvalidInputError(f"{what} is required")
    return out


def unix(value: When | None, what: str) -> float | None:
    """Unix seconds from an aware ``datetime`` (a naive one is taken as UTC) or a number."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise InvalidInputError(f"{what} of {value!r}: use a datetime or unix seconds")


def deal_id(deal: object) -> str:
    """A deal's id from a ``Deal`` or its id."""
    if isinstance(deal, str):
        return deal
    ident = getattr(deal, "id", None)
    if isinstance(ident, str):
        return ident
    raise InvalidInputError(f"a deal of {deal!r}: pass a Deal or its id")


def subscription(
    kind: str, period: Seconds | None, chunk: int | None
) -> tuple[str, float | None]:
    """The native subscription kind and its parameter."""
    if kind == "ticks":
        return kind, None
    if kind in ("candles", "window"):
        return kind, seconds(period, "a period")
    if kind == "chunks":
        if chunk is None or isinstance(chunk, bool) or not isinstance(chunk, int):
            raise InvalidInputError("a chunks subscription needs chunk=<ticks per candle>")
        return kind, float(chunk)
    raise InvalidInputError(
        f"a subscription kind of {kind!r}: use 'ticks', 'candles', 'window' or 'chunks'"
    )
