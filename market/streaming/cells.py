"""The cells a pushed event replaces, rendered exactly as the pages render them.

Layouts: "row" (price, day, pre/post, market cap: the dashboard's miners table), "row-asof"
(the same and the as-of time: watchlists), "headline" (a miner page's price).
"""

from __future__ import annotations

from html import escape

from market.templatetags.market_format import usd
from market.templatetags.market_tables import live_attrs, quote_cells_html

LAYOUTS = ("row", "row-asof", "headline")


def render(symbol: str, quote, layout: str, *, flash: bool = True) -> str:
    """Out-of-band swaps of `symbol`'s cells; `quote` is a Quote or a published quote dict
    (None: no quote yet). `flash` marks the cells that moved (a short CSS flash)."""
    direction = (quote.get("direction", "") if isinstance(quote, dict) else "") if flash else ""
    if layout == "headline":
        price = quote.get("price") if isinstance(quote, dict) else getattr(quote, "price", None)
        flashed = f" live-{direction}" if direction else ""
        return (
            f'<p class="price{flashed}"{live_attrs(symbol, "headline", oob=True)}>'
            f"{escape(usd(price))}</p>"
        )
    instrument = {"symbol": symbol, "quote": quote}
    return str(quote_cells_html(instrument, layout != "row-asof", oob=True, flash=direction))
