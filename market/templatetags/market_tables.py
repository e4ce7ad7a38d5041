"""Table cells of quotes and of the miners table, built in Python.

A table of hundreds of instruments rendered node by node through the template engine costs
hundreds of milliseconds; built here (as Django's admin builds its change list rows) it costs a
few. includes/quote_cells.html calls `quote_cells`, so every table of quotes (the dashboard,
watchlists) shares these cells and their formatting filters.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.safestring import SafeString, mark_safe

from market.analytics import Lean
from market.templatetags.market_format import (
    compact_usd,
    market_time,
    num,
    pct,
    to_decimal,
    updown,
    usd,
)

register = template.Library()


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


def _signed_cell(value, label: str = "") -> str:
    prefix = f'<span class="ext-label">{label}</span> ' if label else ""
    return f'<td class="num {updown(value)}">{prefix}{pct(value)}</td>'


# The numbers and percentages the filters produce hold only digits, signs, "$", "%", ",", "."
# and unit letters: they need no escaping. Text from the database goes through escape().


def quote_cells_html(instrument, hide_as_of: bool = False) -> SafeString:
    """Price, day %, pre/post-market %, market cap and (unless hidden) as-of cells."""
    quote = _quote_of(instrument)
    if not quote:
        empty = '<td class="num muted">No quote yet</td><td class="num"></td><td class="num"></td>'
        empty += '<td class="num"></td>' + ("" if hide_as_of else '<td class="asof"></td>')
        return mark_safe(empty)
    state = _field(quote, "market_state")
    pre = _field(quote, "pre_market_change_percent")
    post = _field(quote, "post_market_change_percent")
    if state == "pre" and pre is not None:
        extended = _signed_cell(pre, "Pre")
    elif state != "regular" and post is not None:
        extended = _signed_cell(post, "Post")
    else:
        extended = '<td class="num"></td>'
    cells = (
        f'<td class="num">{usd(_field(quote, "price"))}</td>'
        f"{_signed_cell(_field(quote, 'change_percent'))}{extended}"
        f'<td class="num">{compact_usd(_field(quote, "market_cap"))}</td>'
    )
    if not hide_as_of:
        fetched_at = _field(quote, "fetched_at")
        shown_at = _field(quote, "provider_time") or fetched_at
        simulated = (
            ' <span class="tag simulated" title="Simulated price, not market data">sim</span>'
            if _field(quote, "source") == "simulated"
            else ""
        )
        stamp = escape(fetched_at.isoformat()) if fetched_at else ""
        cells += (
            f'<td class="asof"><time datetime="{stamp}">{escape(market_time(shown_at))}</time>'
            f"{simulated}</td>"
        )
    return mark_safe(cells)  # noqa: S308 - numbers from the filters, text escaped


@register.simple_tag
def quote_cells(instrument, hide_as_of=False) -> SafeString:
    return quote_cells_html(instrument, bool(hide_as_of))


def _plain(value: Decimal | None) -> str:
    """A number for an HTML attribute (no grouping, no localisation)."""
    number = to_decimal(value)
    return "" if number is None else format(number, "f")


def _range_cell(row) -> str:
    price_range = row.range_52w
    if price_range is None:
        return '<td class="range"></td>'
    price = row.price if row.price is not None else price_range.low
    return (
        f'<td class="range"><span class="lo">{usd(price_range.low)}</span>'
        f'<meter min="{_plain(price_range.low)}" max="{_plain(price_range.high)}"'
        f' value="{_plain(price)}" aria-label="Price within the 52-week range">'
        f'{num(row.range_position)}%</meter><span class="hi">{usd(price_range.high)}</span></td>'
    )


NO_LEAN_CELL = (
    '<td><span class="muted" title="Fewer than 60 trading days of history">n/a</span></td>'
)


def _lean_cell(row) -> str:
    like = row.trades_like
    if like is None or like.lean == Lean.UNKNOWN:
        return (
            '<td><span class="muted" title="Fewer than 60 trading days of history">n/a</span></td>'
        )
    title = (
        f"{like.text}: correlation {like.bitcoin_correlation:.2f} with Bitcoin, "
        f"{like.ai_correlation:.2f} with AI"
    )
    return (
        f'<td><span class="lean lean-{escape(like.lean)}" title="{escape(title)}">'
        f"{escape(like.short)}</span></td>"
    )


@register.simple_tag
def miner_row(row) -> SafeString:
    """One <tr> of the dashboard's miners table for a selectors.InstrumentRow."""
    ytd = row.ytd_percent
    return mark_safe(  # noqa: S308 - numbers from the filters, text escaped
        f'<tr><th scope="row"><a href="{escape(row.url)}">{escape(row.symbol)}</a></th>'
        f'<td class="name">{escape(row.name)}</td>'
        f'<td><span class="seg-tag seg-{escape(row.segment)}" title="{escape(row.segment_label)}">'
        f"{escape(row.segment_short_label)}</span>"
        f"</td>{quote_cells_html(row, hide_as_of=True)}"
        f'<td class="num {updown(ytd)}">{pct(ytd, 1)}</td>{_range_cell(row)}'
        f'<td class="num">{num(row.hashrate_eh, 1)}</td>'
        f'<td class="num">{num(row.hpc_contracted_mw)}</td>'
        f'<td class="num">{compact_usd(row.ev_per_eh)}</td>{_lean_cell(row)}</tr>\n'
    )
