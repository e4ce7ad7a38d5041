"""Numbers the services derive from clean provider values (changes against a reference),
rounded and kept within their columns. Provider values themselves arrive clean
(market/providers/base.py) and are stored as they are."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

EIGHT_PLACES = Decimal("0.00000001")
FOUR_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")
PRICE_LIMIT = Decimal(10) ** 12  # DecimalField(max_digits=20, decimal_places=8)
PERCENT_LIMIT = Decimal(10) ** 8  # max_digits=12, decimal_places=4
MONEY_LIMIT = Decimal(10) ** 22  # max_digits=24, decimal_places=2


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


def change_or_none(value: Decimal | None, reference: Decimal | None):
    """(change, change in percent) of `value` against `reference`."""
    if value is None or reference is None or reference <= 0:
        return None, None
    change = decimal_or_none(value - reference)
    percent = decimal_or_none(
        (value - reference) / reference * 100, places=FOUR_PLACES, limit=PERCENT_LIMIT
    )
    return change, percent
