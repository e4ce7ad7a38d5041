"""A portfolio's private numbers on its owner's live stream: the summary and positions, pushed
again when a price of one of its holdings moves (at most every couple of seconds)."""

from __future__ import annotations

import re

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest
from django.template.loader import render_to_string

from market.streaming.sse import PrivatePart
from portfolios import selectors
from portfolios.models import Holding, Portfolio

LIVE_PARTIAL = "portfolios/portfolio_detail.html#live"
ROOT = '<div id="portfolio-live"'
PORTFOLIO_ID = re.compile(r"[0-9]{1,18}")  # a primary key that fits a BIGINT


def _render(portfolio: Portfolio, request: HttpRequest) -> str:
    context = {"portfolio": portfolio, "positions": selectors.portfolio_positions(portfolio)}
    html = render_to_string(LIVE_PARTIAL, context, request=request)
    return html.replace(ROOT, ROOT + ' hx-swap-oob="true"', 1)


async def open_portfolio(request: HttpRequest, value: str) -> PrivatePart:
    """The private part of the stream of `value`'s portfolio page; 404 unless the signed-in
    user owns it."""
    user = await request.auser()
    # ASCII digits only: "²".isdigit() is true and int("²") fails.
    if not user.is_authenticated or not PORTFOLIO_ID.fullmatch(value):
        raise Http404("no such portfolio")
    portfolio = await Portfolio.objects.filter(pk=int(value), owner=user).afirst()
    if portfolio is None:
        raise Http404("no such portfolio")
    symbols = {
        symbol
        async for symbol in Holding.objects.filter(portfolio=portfolio).values_list(
            "instrument__symbol", flat=True
        )
    }
    render = sync_to_async(_render, thread_sensitive=False)
    return PrivatePart(symbols, lambda: render(portfolio, request))
