"""The values of a trade as typed or read from a file, checked to the bounds the ledger can hold,
and the errors a refused ledger write reports (shared by the forms, the import and the services)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from market.models import Instrument
from market.rules import NOTE_MAX_LENGTH
from portfolios.models import Transaction

TRADE_KINDS = (Transaction.Kind.BUY, Transaction.Kind.SELL, Transaction.Kind.DIVIDEND)
EDITABLE_FIELDS = ("kind", "trade_date", "quantity", "price", "fee", "note")
# DecimalField(max_digits=20, decimal_places=8): at most 12 digits before the point.
MAX_PLACES = 8
MAX_INTEGER_DIGITS = 12
# What a holding's quantity, cost basis and realized P&L can hold (the same 12 digits).
VALUE_LIMIT = 10**MAX_INTEGER_DIGITS
EARLIEST_TRADE_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class RowError:
    """One problem with one trade: `row` is its index in the list given (None for a single
    trade), `field` the trade field at fault ("__all__" for the trade as a whole)."""

    row: int | None
    field: str
    message: str


class LedgerError(ValidationError):
    """A refused ledger write. `row_errors` lists every problem; as a ValidationError it maps
    field names to messages, so a form can show each next to its field."""

    def __init__(self, row_errors: Iterable[RowError]):
        self.row_errors = list(row_errors)
        by_field: dict[str, list[str]] = {}
        for error in self.row_errors:
            text = error.message if error.row is None else f"Row {error.row + 1}: {error.message}"
            by_field.setdefault(error.field, []).append(text)
        super().__init__(by_field)


@dataclass(frozen=True)
class TradeInput:
    """A buy or sell to record. Give `instrument`, or `symbol` (resolved, and added when the
    provider knows it). Values may be typed (date, Decimal) or text as read from a file."""

    kind: str
    trade_date: date | str
    quantity: Decimal | str | int
    price: Decimal | str | int
    fee: Decimal | str | int | None = Decimal(0)
    note: str = ""
    symbol: str = ""
    instrument: Instrument | None = None


# -- validation -------------------------------------------------------------------------------


def _quantity_text(value: Decimal) -> str:
    """12, 1,250 or 0.5: a quantity as people write it."""
    value = value.normalize()
    if value == value.to_integral():
        return f"{value:,.0f}"
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".")


def _decimal(value, field: str, label: str, errors: list[tuple[str, str]]) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append((field, f"Enter the {label}."))
        return None
    if isinstance(value, float):
        value = str(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.append((field, f"Enter the {label} as a number, such as 12.5."))
        return None
    if not number.is_finite():
        errors.append((field, f"Enter the {label} as a number, such as 12.5."))
        return None
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        errors.append((field, f"Use at most {MAX_PLACES} decimal places for the {label}."))
        return None
    if abs(number) >= Decimal(10) ** MAX_INTEGER_DIGITS:
        errors.append((field, f"The {label} is too large."))
        return None
    return number


def _date(value, errors: list[tuple[str, str]]) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
        errors.append(("trade_date", "Enter the trade date as YYYY-MM-DD."))
        return None
    errors.append(("trade_date", "Enter the trade date."))
    return None


def clean_trade_values(
    *, kind, trade_date, quantity, price, fee=Decimal(0), note=""
) -> tuple[dict, list[tuple[str, str]]]:
    """The trade's values, typed, and a (field, message) per problem; shared by every write."""
    errors: list[tuple[str, str]] = []
    kind = (kind or "").strip().lower() if isinstance(kind, str) else kind
    if kind == Transaction.Kind.SPLIT:
        errors.append(
            ("kind", "Splits come from the market's split history; record a buy or a sell.")
        )
    elif kind not in TRADE_KINDS:
        errors.append(("kind", "Choose buy, sell or dividend."))
    day = _date(trade_date, errors)
    today = timezone.localdate()
    if day is not None and day > today:
        errors.append(("trade_date", f"The trade date cannot be in the future (today is {today})."))
    elif day is not None and day < EARLIEST_TRADE_DATE:
        errors.append(("trade_date", f"The trade date cannot be before {EARLIEST_TRADE_DATE}."))
    qty = _decimal(quantity, "quantity", "quantity", errors)
    if qty is not None and qty <= 0:
        errors.append(("quantity", "The quantity must be more than zero."))
    unit_price = _decimal(price, "price", "price", errors)
    if unit_price is not None and unit_price <= 0:
        errors.append(("price", "The price must be more than zero."))
    if fee is None or (isinstance(fee, str) and not fee.strip()):
        fee = Decimal(0)
    fee_amount = _decimal(fee, "fee", "fee", errors)
    if fee_amount is not None and fee_amount < 0:
        errors.append(("fee", "The fee cannot be negative."))
    amounts = (qty, unit_price, fee_amount)
    if None not in amounts and qty * unit_price + fee_amount >= VALUE_LIMIT:
        errors.append(
            (
                NON_FIELD_ERRORS,
                f"The trade's value (quantity × price + fee) is too large: "
                f"keep it under {VALUE_LIMIT:,}.",
            )
        )
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        errors.append(
            ("note", f"Keep the note to {NOTE_MAX_LENGTH} characters (it has {len(note)}).")
        )
    values = {
        "kind": kind,
        "trade_date": day,
        "quantity": qty,
        "price": unit_price,
        "fee": fee_amount,
        "note": note,
    }
    return values, errors


def split_label(ratio: Decimal) -> str:
    """4-for-1 split, 3-for-2 split, 1-for-10 reverse split."""
    fraction = Fraction(ratio).limit_denominator(10_000)
    kind = "reverse split" if fraction < 1 else "split"
    return f"{fraction.numerator}-for-{fraction.denominator} {kind}"
