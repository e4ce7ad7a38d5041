"""`{% live_stream rows %}`: the element that opens a page's live prices stream (htmx's SSE
extension), or nothing when LIVE_STREAM_URL is empty (the page polls as it always did)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _symbol(item) -> str:
    if isinstance(item, str):
        return item
    symbol = getattr(item, "symbol", None)
    return symbol if symbol is not None else getattr(item.instrument, "symbol", "")


@register.simple_tag
def live_stream(items, layout="row", tag="div", portfolio=None) -> SafeString:
    """A hidden element that holds the tab's stream: `items` are the rows, instruments or
    symbols the page shows; `portfolio` adds that portfolio's numbers (for its owner)."""
    url = settings.LIVE_STREAM_URL
    if not url:
        return mark_safe("")
    if isinstance(items, str) or not hasattr(items, "__iter__"):
        items = [items] if items else []
    query = {"s": ",".join(sorted({_symbol(item) for item in items} - {""})), "v": layout}
    if portfolio is not None:
        query["portfolio"] = str(getattr(portfolio, "pk", portfolio))
    inner = "<td></td>" if tag == "tr" else ""
    return mark_safe(  # noqa: S308 - the URL is escaped
        f'<{tag} hidden class="live-stream" hx-ext="sse" '
        f'sse-connect="{escape(url + "?" + urlencode(query, safe=","))}" sse-swap="quotes" '
        f'sse-close="unavailable" hx-swap="none">{inner}</{tag}>'
    )
