"""Splits reaching the ledgers: every holding of a split instrument recomputed against the
split history, and its owner told when the history contradicts their trades."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.urls import reverse

from market.models import SplitEvent
from portfolios import ledger
from portfolios.models import Holding, Notification
from portfolios.services.recompute import recompute_instrument_holdings
from portfolios.services.trade_values import _quantity_text, split_label

log = logging.getLogger(__name__)


def apply_splits(split_event_ids: Sequence[int] = (), *, instrument_ids: Sequence[int] = ()) -> int:
    """Bring every holding of the split instruments in line with their split history.

    The instruments are those of `split_event_ids` (new events) and `instrument_ids` (whose
    history was edited: an event changed or deleted). Each holding is recomputed in its own
    transaction (recompute_holding adds, adjusts or removes the split entries). A holding whose
    trades contradict the history (a later sell of more shares than the split leaves) is left as
    it was and its owner is told. Returns the number of holdings recomputed.
    """
    events = list(SplitEvent.objects.filter(pk__in=split_event_ids).select_related("instrument"))
    return recompute_instrument_holdings(
        {e.instrument_id for e in events} | set(instrument_ids),
        on_oversold=lambda exc: _notify_split_conflict(exc.holding, exc.oversold, events),
    )


def _notify_split_conflict(
    holding: Holding, oversold: list[ledger.Oversold], events: list[SplitEvent]
) -> None:
    event = next((e for e in events if e.instrument_id == holding.instrument_id), None)
    symbol = holding.instrument.symbol
    what = (
        f"{symbol}'s {split_label(event.ratio)} on {event.date}"
        if event is not None
        else f"The change to {symbol}'s split history"
    )
    first = oversold[0]
    text = (
        f"{what} could not be "
        f"applied to {holding.portfolio.name}: your sell of {_quantity_text(first.wanted)} on "
        f"{first.trade_date} is more than the {_quantity_text(first.held)} shares held then. "
        "Please review these trades."
    )
    log.warning("split not applied to holding %s: %s", holding.pk, text)
    Notification.objects.create(
        owner_id=holding.portfolio.owner_id,
        text=text[:300],
        link=reverse("portfolios:transactions", args=[holding.portfolio_id]),
    )
