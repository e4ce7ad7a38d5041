"""Watchlist reads: a user's watchlists with their sizes, and one watchlist's rows."""

from __future__ import annotations

from django.db.models import QuerySet

from portfolios.models import Watchlist, WatchlistItem


def watchlist_items(watchlist: Watchlist) -> QuerySet[WatchlistItem]:
    """The watchlist's rows in order, each with its instrument, quote and miner facts."""
    return watchlist.items.select_related("instrument__quote", "instrument__miner").order_by(
        "position", "id"
    )


def user_watchlists(user) -> QuerySet[Watchlist]:
    from django.db.models import Count

    return user.watchlists.annotate(item_count=Count("items")).order_by("position", "id")
