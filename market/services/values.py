"""Numbers from providers made safe to store: finite, rounded and within the columns."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

EIGHT_PLACES = Decimal("0.00000001")
FOUR_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")
PRICE_LIMIT = Decimal(10) ** 12  # DecimalField(max_digits=20, decimal_places=8)
PERCENT_LIMIT = Decimal(10) ** 8  # max_digits=12, decimal_places=4
MONEY_LIMIT = Decimal(10) ** 22  # max_digits=24, decimal_places=2
BIGINT_LIMIT = 2**63


def decimal_or_none(value: Any, *, places: Decimal = EIGHT_PLACES, limit: Decimal = PRICE_LIMIT):
    """A finite Decimal rounded to `places` and within the column's range, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if not number.is_finite():
            return None
        number = number.quantize(places, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if abs(number) < limit else None


def positive_or_none(value: Any, **kwargs) -> Decimal | None:
    number = decimal_or_none(value, **kwargs)
    return number if number is not None and number > 0 else None


def count_or_none(value: Any) -> int | None:
    """A non-negative integer (volume, share count), None for NaN, negatives or junk."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not number.is_finite() or number < 0 or number >= BIGINT_LIMIT:
        return None
    return int(number)


def change_or_none(value: Decimal | None, reference: Decimal | None):
    """(change, change in percent) of `value` against `reference`."""
    if value is None or reference is None or reference <= 0:
        return None, None
    change = decimal_or_none(value - reference)
    percent = decimal_or_none(
        (value - reference) / reference * 100, places=FOUR_PLACES, limit=PERCENT_LIMIT
    )
    return change, percent


def aware_or_none(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) and value.tzinfo is not None else None
