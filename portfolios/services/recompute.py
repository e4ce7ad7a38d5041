"""Recomputing a holding from its ledger, the step every write to a transaction ends with.

A holding's quantity, average cost, cost basis and realized P&L are recomputed from its trades
and the instrument's split and dividend events, with the holding row locked and inside the
caller's database transaction, so two writes to one holding never interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction as db

from config import versions
from market.models import Instrument, SplitEvent
from portfolios import ledger
from portfolios.models import Holding, Portfolio, Transaction
from portfolios.performance import history
from portfolios.services import derived, dividends, trade_fx
from portfolios.services.trade_values import (
    VALUE_LIMIT,
    LedgerError,
    RowError,
    _quantity_text,
    split_label,
)

HOLDING_FIELDS = (
    "quantity",
    "average_cost",
    "cost_basis",
    "realized_pnl",
    "base_currency",
    "cost_basis_base",
    "realized_pnl_base",
)


class _Oversold(Exception):
    def __init__(self, holding: Holding, oversold: list[ledger.Oversold]):
        super().__init__("oversold")
        self.holding = holding
        self.oversold = oversold


def _locked_holding(portfolio: Portfolio, instrument: Instrument) -> Holding:
    holding, _ = Holding.objects.get_or_create(portfolio=portfolio, instrument=instrument)
    return (
        Holding.objects.select_for_update(of=("self",))
        .select_related("instrument")
        .get(pk=holding.pk)
    )


def _recompute_locked(holding: Holding, since: date | None = None) -> Holding | None:
    """Recompute a locked holding from its trades and its instrument's splits and dividends,
    bring its split and automatic dividend entries in line (create, adjust, remove), save it, and
    drop the portfolio's value history from `since` (default: the holding's first entry). A
    holding left with no trade is deleted (None). Raises _Oversold, leaving the caller's
    transaction to roll back."""
    entries = list(holding.transactions.all())
    if entries or since:
        history.invalidate(
            holding.portfolio_id, min([since] if since else [e.trade_date for e in entries])
        )
    trades = [
        ledger.Trade(
            key=entry.pk,
            kind=entry.kind,
            trade_date=entry.trade_date,
            quantity=entry.quantity,
            price=entry.price,
            fee=entry.fee,
            sequence=entry.pk,
        )
        for entry in entries
        if entry.kind != Transaction.Kind.SPLIT and not (entry.is_dividend and entry.automatic)
    ]
    if not trades:
        holding.delete()
        return None
    splits = [
        ledger.Split(split_date, ratio)
        for split_date, ratio in SplitEvent.objects.filter(
            instrument_id=holding.instrument_id
        ).values_list("date", "ratio")
    ]
    events = dividends.market_dividends(holding, entries, splits)
    position = ledger.walk(trades, splits, events)
    if position.oversold:
        raise _Oversold(holding, position.oversold)
    figures = (position.quantity, position.cost_basis, position.realized_pnl)
    if any(abs(figure) >= VALUE_LIMIT for figure in figures):
        symbol = holding.instrument.symbol
        raise LedgerError(
            [
                RowError(
                    None,
                    NON_FIELD_ERRORS,
                    f"This would take your {symbol} holding's quantity, cost or P&L past "
                    f"{VALUE_LIMIT:,}, more than a portfolio can hold.",
                )
            ]
        )
    dividends.reconcile(holding, entries, position)

    derived.sync_entries(
        holding,
        Transaction.Kind.SPLIT,
        {e.trade_date: e for e in entries if e.kind == Transaction.Kind.SPLIT},
        {
            split.split_date: {
                "quantity": position.stored(split.quantity_change),
                "split_ratio": split.ratio,
                "note": split_label(split.ratio),
            }
            for split in position.applied_splits
        },
    )

    holding.quantity = position.stored(position.quantity)
    holding.average_cost = position.stored(position.average_cost)
    holding.cost_basis = position.stored(position.cost_basis)
    holding.realized_pnl = position.stored(position.realized_pnl)
    holding.base_currency, holding.cost_basis_base, holding.realized_pnl_base = (
        trade_fx.base_position(holding, trades, splits, events, position)
    )
    holding.save(update_fields=[*HOLDING_FIELDS, "updated_at"])
    return holding


def recompute_holding(holding: Holding) -> Holding | None:
    """Recompute one holding from its ledger (locking it). None when it has no trade left."""
    with db.atomic():
        locked = (
            Holding.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .get(pk=holding.pk)
        )
        try:
            return _recompute_locked(locked)
        except _Oversold as exc:
            raise LedgerError(
                [RowError(None, NON_FIELD_ERRORS, _oversold_text(locked, o)) for o in exc.oversold]
            ) from None


def recompute_instrument_holdings(
    instrument_ids: Collection[int], *, on_oversold: Callable[[_Oversold], None] | None = None
) -> int:
    """Recompute every holding of these instruments, each in its own transaction, after their
    market history (splits, dividends) changed. A holding whose trades the history contradicts
    (a later sell of more shares than a split leaves) is left as it was and `on_oversold` is
    told. Returns the number of holdings recomputed."""
    if not instrument_ids:
        return 0
    holding_ids = list(
        Holding.objects.filter(instrument_id__in=instrument_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    done = 0
    for holding_id in holding_ids:
        try:
            with db.atomic():
                holding = (
                    Holding.objects.select_for_update(of=("self",))
                    .select_related("instrument", "portfolio")
                    .get(pk=holding_id)
                )
                _recompute_locked(holding)
                versions.user_changed(holding.portfolio.owner_id)
            done += 1
        except _Oversold as exc:
            if on_oversold is not None:
                on_oversold(exc)
        except Holding.DoesNotExist:  # deleted meanwhile
            continue
    return done


def _oversold_text(holding: Holding, oversold: ledger.Oversold, prefix: str = "") -> str:
    symbol = holding.instrument.symbol
    held = _quantity_text(oversold.held)
    wanted = _quantity_text(oversold.wanted)
    if prefix and not oversold.held:
        return (
            f"{prefix} would leave your sell of {wanted} {symbol} on {oversold.trade_date} "
            f"with no {symbol} held to sell."
        )
    if prefix:
        return (
            f"{prefix} would leave your sell of {wanted} {symbol} on {oversold.trade_date} "
            f"larger than the {held} held then."
        )
    return (
        f"You held {held} {symbol} on {oversold.trade_date}; you cannot sell {wanted}."
        if oversold.held
        else f"You held no {symbol} on {oversold.trade_date}, so there is nothing to sell."
    )
