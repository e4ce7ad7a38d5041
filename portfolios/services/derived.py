"""Entries a holding's ledger derives from the market's history (splits, dividends), kept in line
with what the ledger walk applied: one entry per day, created, adjusted or removed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from portfolios.models import Holding, Transaction


def sync_entries(
    holding: Holding,
    kind: str,
    existing: Mapping[date, Transaction],
    wanted: Mapping[date, dict],
) -> None:
    """Make the holding's derived entries of `kind` (`existing`, by day) one per day of `wanted`
    with its field values: new days created, changed values updated, days no longer wanted
    deleted."""
    to_create, to_update, changed_fields = [], [], set()
    for day, values in wanted.items():
        entry = existing.get(day)
        if entry is None:
            to_create.append(
                Transaction(
                    holding=holding,
                    portfolio_id=holding.portfolio_id,
                    kind=kind,
                    trade_date=day,
                    **values,
                )
            )
        elif any(getattr(entry, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(entry, name, value)
            to_update.append(entry)
            changed_fields |= values.keys()
    stale = [entry.pk for day, entry in existing.items() if day not in wanted]
    if stale:
        Transaction.objects.filter(pk__in=stale).delete()
    if to_create:
        Transaction.objects.bulk_create(to_create)
    if to_update:
        Transaction.objects.bulk_update(to_update, sorted(changed_fields))
