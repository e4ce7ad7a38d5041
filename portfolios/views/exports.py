"""CSV downloads of a user's own data.

Every view starts its query from the signed-in user, so another user's portfolio is a 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from market.csv_export import csv_response, export_filename
from portfolios import csv_export, selectors
from portfolios.models import Portfolio, Watchlist


@login_required
@require_GET
def transactions_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The portfolio's ledger; `?symbol=` keeps one instrument's entries, as the page's filter."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    entries = selectors.portfolio_transactions(portfolio)
    symbol = request.GET.get("symbol", "").strip().upper()
    parts = [portfolio.name, "transactions"]
    if symbol:
        entries = entries.filter(holding__instrument__symbol=symbol)
        parts.insert(1, symbol)
    return csv_response(
        export_filename(*parts, on=timezone.localdate()),
        csv_export.TRANSACTIONS_HEADER,
        csv_export.transaction_rows(entries, base_currency=portfolio.base_currency),
    )


@login_required
@require_GET
def all_transactions_csv(request: HttpRequest) -> HttpResponse:
    return csv_response(
        export_filename("all", "transactions", on=timezone.localdate()),
        ["portfolio", *csv_export.TRANSACTIONS_HEADER],
        csv_export.transaction_rows(selectors.user_transactions(request.user), with_portfolio=True),
    )


@login_required
@require_GET
def positions_csv(request: HttpRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    return csv_response(
        export_filename(portfolio.name, "positions", on=timezone.localdate()),
        csv_export.POSITIONS_HEADER,
        csv_export.position_rows(selectors.portfolio_positions(portfolio)),
    )


@login_required
@require_GET
def exposure_csv(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Exposure of one portfolio, or (without `pk`) of all the user's portfolios together."""
    portfolio = None
    if pk is not None:
        portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    name = portfolio.name if portfolio else "all"
    return csv_response(
        export_filename(name, "exposure", on=timezone.localdate()),
        csv_export.EXPOSURE_HEADER,
        csv_export.exposure_rows(selectors.exposure(request.user, portfolio)),
    )


@login_required
@require_GET
def watchlist_csv(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = get_object_or_404(Watchlist, pk=pk, owner=request.user)
    return csv_response(
        export_filename(watchlist.name, "watchlist", on=timezone.localdate()),
        csv_export.WATCHLIST_HEADER,
        csv_export.watchlist_rows(selectors.watchlist_items(watchlist)),
    )
