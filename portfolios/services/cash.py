"""Entries of a portfolio's cash: deposits, withdrawals, interest and stand-alone fees.

They hold no instrument and carry an amount in the portfolio's base currency. Like every ledger
write, recording, changing or deleting one drops the value history from the first day touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction as db
from django.utils import timezone

from market.rules import NOTE_MAX_LENGTH as NOTE_MAX
from portfolios.models import Portfolio, Transaction
from portfolios.performance import history
from portfolios.services.transactions import LedgerError, RowError, _date, _decimal

CASH_KINDS = Transaction.CASH_KINDS
CASH_FIELDS = ("kind", "trade_date", "amount", "note")


def clean_cash_values(*, kind, trade_date, amount, note="") -> tuple[dict, list[tuple[str, str]]]:
    """The entry's values, typed, and a (field, message) per problem."""
    errors: list[tuple[str, str]] = []
    kind = (kind or "").strip().lower() if isinstance(kind, str) else kind
    if kind not in CASH_KINDS:
        errors.append(("kind", "Choose deposit, withdrawal, interest or fee."))
    day = _date(trade_date, errors)
    today = timezone.localdate()
    if day is not None and day > today:
        errors.append(("trade_date", f"The date cannot be in the future (today is {today})."))
    value = _decimal(amount, "amount", "amount", errors)
    if value is not None and value <= 0:
        errors.append(("amount", "The amount must be more than zero."))
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors.append(("note", f"Keep the note to {NOTE_MAX} characters (it has {len(note)})."))
    return {"kind": kind, "trade_date": day, "amount": value, "note": note}, errors


@dataclass(frozen=True)
class CashInput:
    """A deposit, withdrawal, interest or fee to record; values typed or as text from a file."""

    kind: str
    trade_date: date | str
    amount: Decimal | str
    note: str = ""


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise LedgerError(RowError(None, field, message) for field, message in problems)


def record_cash_entry(
    *, portfolio: Portfolio, kind: str, trade_date: date, amount: Decimal, note: str = ""
) -> Transaction:
    """Record a deposit, withdrawal, interest or fee, or raise LedgerError and write nothing."""
    values, problems = clean_cash_values(kind=kind, trade_date=trade_date, amount=amount, note=note)
    _refuse(problems)
    with db.atomic():
        entry = Transaction.objects.create(portfolio=portfolio, holding=None, **values)
        history.invalidate(portfolio.pk, entry.trade_date)
    return entry


def record_cash_entries(*, portfolio: Portfolio, entries: Sequence[CashInput]) -> list[Transaction]:
    """Record many cash entries at once (a CSV import): all or nothing.

    LedgerError.row_errors gives (index in `entries`, field, message) for every problem found;
    when there is one, nothing is written."""
    errors: list[RowError] = []
    cleaned: list[dict] = []
    for index, entry in enumerate(entries):
        values, problems = clean_cash_values(
            kind=entry.kind, trade_date=entry.trade_date, amount=entry.amount, note=entry.note
        )
        errors.extend(RowError(index, field, message) for field, message in problems)
        cleaned.append(values)
    if errors:
        raise LedgerError(errors)
    if not cleaned:
        return []
    with db.atomic():
        created = Transaction.objects.bulk_create(
            [Transaction(portfolio=portfolio, holding=None, **values) for values in cleaned]
        )
        history.invalidate(portfolio.pk, min(values["trade_date"] for values in cleaned))
    return created


def update_cash_entry(*, transaction: Transaction, **fields) -> Transaction:
    unknown = set(fields) - set(CASH_FIELDS)
    if unknown:
        raise TypeError(f"cannot edit {', '.join(sorted(unknown))} of a cash entry")
    merged = {name: fields.get(name, getattr(transaction, name)) for name in CASH_FIELDS}
    values, problems = clean_cash_values(**merged)
    _refuse(problems)
    with db.atomic():
        since = min(transaction.trade_date, values["trade_date"])
        for name, value in values.items():
            setattr(transaction, name, value)
        transaction.save(update_fields=list(CASH_FIELDS))
        history.invalidate(transaction.portfolio_id, since)
    return transaction


def delete_cash_entry(*, transaction: Transaction) -> None:
    with db.atomic():
        Transaction.objects.filter(pk=transaction.pk, holding=None).delete()
        history.invalidate(transaction.portfolio_id, transaction.trade_date)
