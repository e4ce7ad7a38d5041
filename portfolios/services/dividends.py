"""Dividend entries from the market's dividend history, kept in line with a holding's ledger.

Like split entries, automatic dividend entries are derived: the per-share amount of each stored
`Dividend` times the shares held as its ex-date opens. They are created, adjusted and removed by
every recompute of the holding. A dividend the user recorded for an ex-date (or an automatic one
they edited, which becomes theirs) takes that ex-date's place and is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction as db

from config import versions
from market.models import Dividend
from portfolios import ledger
from portfolios.models import Holding, Transaction

DIVIDEND = Transaction.Kind.DIVIDEND


def dividend_label(amount) -> str:
    return f"Dividend of {amount.normalize():f} per share"


def market_dividends(holding: Holding, entries: Sequence[Transaction]) -> list:
    """The instrument's dividends the ledger should pay on its own: those on an ex-date without
    a dividend of the user's."""
    own = {e.trade_date for e in entries if e.kind == DIVIDEND and not e.automatic}
    return [
        ledger.DividendEvent(ex_date, amount)
        for ex_date, amount in Dividend.objects.filter(
            instrument_id=holding.instrument_id
        ).values_list("ex_date", "amount")
        if ex_date not in own
    ]


def reconcile(holding: Holding, entries: Sequence[Transaction], position: ledger.Position) -> None:
    """Create, adjust and remove the holding's automatic dividend entries to match `position`."""
    existing = {e.trade_date: e for e in entries if e.kind == DIVIDEND and e.automatic}
    paid = {d.ex_date: d for d in position.applied_dividends}
    to_create, to_update = [], []
    for ex_date, dividend in paid.items():
        shares = position.stored(dividend.shares)
        entry = existing.get(ex_date)
        if entry is None:
            to_create.append(
                Transaction(
                    holding=holding,
                    portfolio_id=holding.portfolio_id,
                    kind=DIVIDEND,
                    trade_date=ex_date,
                    quantity=shares,
                    price=dividend.amount,
                    automatic=True,
                    note=dividend_label(dividend.amount),
                )
            )
        elif entry.quantity != shares or entry.price != dividend.amount:
            entry.quantity, entry.price = shares, dividend.amount
            entry.note = dividend_label(dividend.amount)
            to_update.append(entry)
    stale = [e.pk for day, e in existing.items() if day not in paid]
    if stale:
        Transaction.objects.filter(pk__in=stale).delete()
    if to_create:
        Transaction.objects.bulk_create(to_create)
    if to_update:
        Transaction.objects.bulk_update(to_update, ["quantity", "price", "note"])


def apply_dividends(dividend_ids: Sequence[int] = (), *, instrument_ids: Sequence[int] = ()) -> int:
    """Bring every holding of these instruments in line with their dividend history, each in
    its own transaction: those of `dividend_ids` (new or restated by a bars run) and
    `instrument_ids` (whose history was edited: a dividend changed or deleted). A holding whose
    ledger is contradicted by its split history is left as it was (the split update tells its
    owner). Returns the number of holdings recomputed."""
    from portfolios.services.transactions import _Oversold, _recompute_locked

    instruments = set(
        Dividend.objects.filter(pk__in=dividend_ids).values_list("instrument_id", flat=True)
    ) | set(instrument_ids)
    if not instruments:
        return 0
    holding_ids = list(
        Holding.objects.filter(instrument_id__in=instruments)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    done = 0
    for holding_id in holding_ids:
        try:
            with db.atomic():
                holding = (
                    Holding.objects.select_for_update()
                    .select_related("instrument", "portfolio")
                    .get(pk=holding_id)
                )
                _recompute_locked(holding)
                versions.user_changed(holding.portfolio.owner_id)
            done += 1
        except (_Oversold, Holding.DoesNotExist):
            continue
    return done
