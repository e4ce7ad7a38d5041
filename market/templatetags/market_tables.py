"""Table cells of quotes and of the miners table, built in Python with format_html.

A table of hundreds of instruments rendered node by node through the template engine costs
hundreds of milliseconds; built here (as Django's admin builds its change list rows) it costs a
few. Every row and cell goes through format_html, which escapes whatever it is given that is not
already safe markup. includes/quote_cells.html calls `quote_cells`, so every table of quotes (the
dashboard, watchlists) shares these cells and their formatting.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from market import formatting
from market.analytics import Lean
from market.templatetags.market_format import market_time, to_decimal, updown

register = template.Library()

NO_QUOTE_CELLS = mark_safe(
    '<td class="num muted">No quote yet</td><td class="num"></td><td class="num"></td>'
    '<td class="num"></td>'
)
NO_QUOTE_AS_OF = mark_safe('<td class="asof"></td>')
EMPTY_RANGE_CELL = mark_safe('<td class="range"></td>')
NO_LEAN_CELL = mark_safe(
    '<td><span class="muted" title="Fewer than 60 trading days of history">n/a</span></td>'
)
SIMULATED_TAG = mark_safe(
    ' <span class="tag simulated" title="Simulated price, not market data">sim</span>'
)


@lru_cache(maxsize=formatting.CACHE_SIZE)
def _escaped(text: str) -> SafeString:
    """A formatted number, escaped once: format_html then takes it as it is (escaping every
    number of a table again on each render costs more than formatting it)."""
    return conditional_escape(text)


def _change_class(value) -> str:
    """ "num up", "num down", or "num" for zero and missing changes."""
    direction = updown(value)
    return f"num {direction}" if direction else "num"


def _quote_of(instrument):
    """The instrument's quote (a model or a dict), or None when it has none."""
    if instrument is None or instrument == "":
        return None
    if isinstance(instrument, dict):
        return instrument.get("quote")
    try:
        return instrument.quote
    except ObjectDoesNotExist:
        return None


def _field(quote, name: str):
    if isinstance(quote, dict):
        return quote.get(name)
    return getattr(quote, name, None)


def _currency(instrument, quote) -> str:
    """The quote's currency, else the instrument's, else USD."""
    return (
        _field(quote, "currency")
        or (None if isinstance(instrument, dict) else getattr(instrument, "currency", None))
        or formatting.DEFAULT_CURRENCY
    )


@lru_cache(maxsize=formatting.CACHE_SIZE)
def live_attrs(symbol: str | None, cell: str, oob: bool = False) -> SafeString:
    """The attributes that let the live stream find a cell (data-live="SYMBOL cell") and, in a
    pushed event, replace it out of band (market/streaming/)."""
    if not symbol:
        return mark_safe("")
    key = f"{symbol} {cell}"
    if oob:
        return format_html(' data-live="{}" hx-swap-oob="outerHTML:[data-live=\'{}\']"', key, key)
    return format_html(' data-live="{}"', key)


def quote_cells_html(
    instrument, hide_as_of: bool = False, *, oob: bool = False, flash: str = ""
) -> SafeString:
    """Price, day %, pre/post-market %, market cap and (unless hidden) as-of cells, each marked
    for the live stream, which pushes the same cells with `oob` (and `flash`: "up" or "down")."""
    quote = _quote_of(instrument)
    symbol = _field(instrument, "symbol") if instrument not in (None, "") else None

    def attrs(cell: str) -> SafeString:
        return live_attrs(symbol, cell, oob)

    if not quote:
        if not symbol:
            return NO_QUOTE_CELLS if hide_as_of else NO_QUOTE_CELLS + NO_QUOTE_AS_OF
        cells = format_html(
            '<td class="num muted"{}>No quote yet</td><td class="num"{}></td>'
            '<td class="num"{}></td><td class="num"{}></td>',
            attrs("price"),
            attrs("day"),
            attrs("ext"),
            attrs("cap"),
        )
        return (
            cells if hide_as_of else cells + format_html('<td class="asof"{}></td>', attrs("asof"))
        )
    currency = _currency(instrument, quote)
    change = _field(quote, "change_percent")
    state = _field(quote, "market_state")
    pre = _field(quote, "pre_market_change_percent")
    post = _field(quote, "post_market_change_percent")
    if state == "pre" and pre is not None:
        label, extended = "Pre", pre
    elif state != "regular" and post is not None:
        label, extended = "Post", post
    else:
        label, extended = "", None
    # A pushed change flashes the price that moved: the extended-hours one outside the session.
    flashed = f" live-{flash}" if flash in ("up", "down") else ""
    extended_hours = state in ("pre", "post")
    # One format_html for the row's cells: a table re-renders hundreds of them at once.
    cells = format_html(
        '<td class="num{}"{}>{}</td><td class="{}"{}>{}</td><td class="{}{}"{}>{}{}</td>'
        '<td class="num"{}>{}</td>',
        "" if extended_hours else flashed,
        attrs("price"),
        _escaped(formatting.money(_field(quote, "price"), currency)),
        _change_class(change),
        attrs("day"),
        _escaped(formatting.percent(change)),
        _change_class(extended),
        flashed if extended_hours else "",
        attrs("ext"),
        format_html('<span class="ext-label">{}</span> ', label) if label else "",
        _escaped(formatting.percent(extended)),
        attrs("cap"),
        _escaped(formatting.compact_money(_field(quote, "market_cap"), currency)),
    )
    if hide_as_of:
        return cells
    fetched_at = _field(quote, "fetched_at")
    return cells + format_html(
        '<td class="asof"{}><time datetime="{}">{}</time>{}</td>',
        attrs("asof"),
        fetched_at.isoformat() if fetched_at else "",
        market_time(_field(quote, "provider_time") or fetched_at),
        SIMULATED_TAG if _field(quote, "source") == "simulated" else "",
    )


@register.simple_tag
def quote_cells(instrument, hide_as_of=False) -> SafeString:
    return quote_cells_html(instrument, bool(hide_as_of))


def _plain(value: Decimal | None) -> str:
    """A number for an HTML attribute (no grouping, no localisation)."""
    number = to_decimal(value)
    return "" if number is None else format(number, "f")


def _range_cell(row) -> SafeString:
    price_range = row.range_52w
    if price_range is None:
        return EMPTY_RANGE_CELL
    price = row.price if row.price is not None else price_range.low
    return format_html(
        '<td class="range"><span class="lo">{}</span><meter min="{}" max="{}" value="{}"'
        ' aria-label="Price within the 52-week range">{}%</meter>'
        '<span class="hi">{}</span></td>',
        _escaped(formatting.money(price_range.low)),
        _plain(price_range.low),
        _plain(price_range.high),
        _plain(price),
        _escaped(formatting.number(row.range_position)),
        _escaped(formatting.money(price_range.high)),
    )


def _lean_cell(row) -> SafeString:
    like = row.trades_like
    if like is None or like.lean == Lean.UNKNOWN:
        return NO_LEAN_CELL
    title = (
        f"{like.text}: correlation {like.bitcoin_correlation:.2f} with Bitcoin, "
        f"{like.ai_correlation:.2f} with AI"
    )
    return format_html(
        '<td><span class="lean lean-{}" title="{}">{}</span></td>', like.lean, title, like.short
    )


@register.simple_tag
def miner_row(row) -> SafeString:
    """One <tr> of the dashboard's miners table for a selectors.InstrumentRow."""
    ytd = row.ytd_percent
    return format_html(
        '<tr><th scope="row"><a href="{}">{}</a></th><td class="name">{}</td>'
        '<td><span class="seg-tag seg-{}" title="{}">{}</span></td>{}'
        '<td class="{}">{}</td>{}<td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td>{}</tr>\n',
        row.url,
        row.symbol,
        row.name,
        row.segment,
        row.segment_label,
        row.segment_short_label,
        quote_cells_html(row, hide_as_of=True),
        _change_class(ytd),
        _escaped(formatting.percent(ytd, 1)),
        _range_cell(row),
        _escaped(formatting.number(row.hashrate_eh, 1)),
        _escaped(formatting.number(row.hpc_contracted_mw)),
        _escaped(formatting.compact_money(row.ev_per_eh)),
        _lean_cell(row),
    )
