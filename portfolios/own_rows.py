"""What pages show of a signed-in user's own rows around the market data: in the navigation, how
many notifications they have not read (and whether they have any watchlist or portfolio yet);
on a miner page, their holdings, watchlists and alerts.

These change only with the user's version token (config/versions.py: any write of theirs, any
save of their rows, the alert and split tasks), while the pages around them change with every
quotes refresh. So they are read in one go and kept in the cache under that token: a user who
opens twenty miner pages after a refresh reads them once, not four queries per page.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce

from config import versions
from market.selectors import cached_on_token
from portfolios.models import (
    Holding,
    Notification,
    Portfolio,
    PriceAlert,
    Watchlist,
    WatchlistItem,
)

KEPT_SECONDS = 600


@dataclass(frozen=True)
class OwnSummary:
    unread_notifications: int
    has_watchlist: bool
    has_portfolio: bool


def own_summary(user) -> OwnSummary:
    """One query when the cache does not have it, none when it does."""
    return cached_on_token(
        versions.user_token(user.pk),
        "own-summary",
        (str(user.pk),),
        lambda: _read_summary(user),
        KEPT_SECONDS,
    )


def _read_summary(user) -> OwnSummary:
    unread = Notification.objects.filter(owner=OuterRef("pk"), read_at__isnull=True)
    counts = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values(
            unread=Coalesce(
                Subquery(unread.values("owner").annotate(n=Count("pk")).values("n")), 0
            ),
            has_watchlist=Exists(Watchlist.objects.filter(owner=OuterRef("pk"))),
            has_portfolio=Exists(Portfolio.objects.filter(owner=OuterRef("pk"))),
        )
        .first()
    ) or {"unread": 0, "has_watchlist": False, "has_portfolio": False}
    return OwnSummary(
        unread_notifications=counts["unread"],
        has_watchlist=counts["has_watchlist"],
        has_portfolio=counts["has_portfolio"],
    )


@dataclass(frozen=True)
class OwnRows:
    # Open holdings and closed ones with realized P&L, with their portfolio, by portfolio name.
    holdings: list[Holding]
    watchlists: list[Watchlist]  # in the user's order
    watched: dict[int, frozenset[int]]  # watchlist id -> the instrument ids on it
    alerts: list[PriceAlert]  # by id

    def holdings_of(self, instrument_id: int) -> list[Holding]:
        return [h for h in self.holdings if h.instrument_id == instrument_id]

    def watchlists_marked(self, instrument_id: int) -> list[Watchlist]:
        """Every watchlist of the user's (copies), each with `has_instrument` for this one."""
        marked = []
        for watchlist in self.watchlists:
            watchlist = copy.copy(watchlist)
            watchlist.has_instrument = instrument_id in self.watched.get(watchlist.pk, ())
            marked.append(watchlist)
        return marked

    def alerts_on(self, instrument_id: int) -> list[PriceAlert]:
        return [a for a in self.alerts if a.instrument_id == instrument_id]


def own_rows(user) -> OwnRows:
    """The user's rows as of their current token: four queries when the cache does not have
    them, none when it does."""
    return cached_on_token(
        versions.user_token(user.pk), "own-rows", (str(user.pk),), lambda: _read(user), KEPT_SECONDS
    )


def _read(user) -> OwnRows:
    holdings = list(
        Holding.objects.filter(portfolio__owner=user)
        .exclude(quantity=0, realized_pnl=0)
        .select_related("portfolio")
        .order_by("portfolio__name", "portfolio_id", "id")
    )
    watchlists = list(Watchlist.objects.filter(owner=user).order_by("position", "id"))
    watched: dict[int, set[int]] = {w.pk: set() for w in watchlists}
    for watchlist_id, instrument_id in WatchlistItem.objects.filter(
        watchlist__owner=user
    ).values_list("watchlist_id", "instrument_id"):
        watched.setdefault(watchlist_id, set()).add(instrument_id)
    return OwnRows(
        holdings=holdings,
        watchlists=watchlists,
        watched={pk: frozenset(ids) for pk, ids in watched.items()},
        alerts=list(PriceAlert.objects.filter(owner=user).order_by("id")),
    )
