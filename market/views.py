"""Public market pages: the sector dashboard, a page per miner, instrument search."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from config.conditional import conditional_page
from market import analytics, selectors
from market.models import Miner, Quote
from market.outage import outage_notice
from market.presentation import DEFAULT_SORT, MINER_COLUMNS, parse_sort
from market.rules import NEW_YORK
from market.selectors import (
    DEFAULT_MINER_RANGE,
    DEFAULT_SECTOR_RANGE,
    MINER_RANGES,
    SECTOR_RANGES,
    History,
)


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware."""

    htmx: HtmxDetails


SEGMENT_CHOICES = [("", "All"), *Miner.Segment.choices]


class DashboardQuery(forms.Form):
    """The dashboard's query parameters. Unknown values fall back to the defaults, so that an
    old or hand-edited link still shows the page."""

    sort = forms.ChoiceField(
        required=False,
        choices=[(f"{p}{c.key}", c.label) for c in MINER_COLUMNS for p in ("", "-")],
    )
    segment = forms.ChoiceField(required=False, choices=SEGMENT_CHOICES)
    range = forms.ChoiceField(required=False, choices=[(r.key, r.label) for r in SECTOR_RANGES])

    def values(self) -> dict[str, str]:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            "sort": cleaned.get("sort") or DEFAULT_SORT,
            "segment": cleaned.get("segment") or "",
            "range": cleaned.get("range") or DEFAULT_SECTOR_RANGE,
        }


class RangeQuery(forms.Form):
    range = forms.CharField(required=False)

    def value(self, allowed: dict, default: str) -> str:
        self.is_valid()
        chosen = (getattr(self, "cleaned_data", {}).get("range") or "").upper()
        return chosen if chosen in allowed else default


def _query(params: dict[str, str], defaults: dict[str, str], **changes: str) -> str:
    """The params with changes as a query string, default values left out: "?sort=ytd", or
    "?" when everything is a default (a link to the page itself without parameters)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v and v != defaults.get(k)}
    return "?" + urlencode(kept) if kept else "?"


def _dashboard_url(params: dict[str, str], **changes: str) -> str:
    return reverse("market:dashboard") + _query(params, DASHBOARD_DEFAULTS, **changes).rstrip("?")


DASHBOARD_DEFAULTS = {"sort": DEFAULT_SORT, "segment": "", "range": DEFAULT_SECTOR_RANGE}

# Which partial of the dashboard an htmx request asks for, by the id of the element it swaps.
# The query parameters each swappable part of the dashboard owns.
OWN_PARAMETERS = {"miners-table": ("sort", "segment"), "sector-history": ("range",)}

DASHBOARD_PARTIALS = {
    "miner-rows": "rows",
    "miners-table": "table",
    "sector-history": "history",
    "sector-summary": "summary",
}


def _sort_headers(params: dict[str, str]) -> list[dict]:
    key, descending = parse_sort(params["sort"])
    headers = []
    for column in MINER_COLUMNS:
        active = column.key == key
        if active:
            next_sort = column.key if descending else f"-{column.key}"
        else:
            next_sort = f"-{column.key}" if column.descending_first else column.key
        headers.append(
            {
                "column": column,
                "url": _dashboard_url(params, sort=next_sort),
                "aria_sort": ("descending" if descending else "ascending") if active else "",
            }
        )
    return headers


def _segment_hx_url(segment: str) -> str:
    """The htmx link of a segment tab or card: the segment alone, so that the view keeps every
    other parameter from the browser's current URL (a sort chosen in place after this link was
    rendered)."""
    return reverse("market:dashboard") + "?" + urlencode({"segment": segment})


def _segment_links(params: dict[str, str], counts: dict[str, int]) -> list[dict]:
    total = sum(counts.values())
    links = []
    for value, label in SEGMENT_CHOICES:
        count = total if value == "" else counts.get(value, 0)
        if value and not count:
            continue
        links.append(
            {
                "label": label,
                "count": count,
                "url": _dashboard_url(params, segment=value),
                "hx_url": _segment_hx_url(value),
                "current": params["segment"] == value,
            }
        )
    return links


def _range_links(params: dict[str, str], ranges, defaults) -> list[dict]:
    return [
        {
            "key": r.key,
            "label": r.label,
            "url": _query(params, defaults, range=r.key),
            "current": params["range"] == r.key,
        }
        for r in ranges
    ]


def _query_of(url: str) -> str:
    """The query string of a URL a browser sent in a header; "" when it is not a URL."""
    try:
        return urlsplit(url).query
    except ValueError:  # e.g. "http://[" (an unclosed IPv6 host)
        return ""


@require_GET
@conditional_page
@vary_on_headers("HX-Request", "HX-Target", "HX-Current-URL")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    params = DashboardQuery(request.GET).values()
    push_url = None
    if request.htmx and request.htmx.target in OWN_PARAMETERS and request.htmx.current_url:
        # The page's other parts may have changed the URL since this link was rendered (a new
        # chart range, then a sort): keep their parameters from the browser's current URL.
        current = DashboardQuery(QueryDict(_query_of(request.htmx.current_url))).values()
        # Of the part's own parameters, those the link names: a segment tab's htmx link names
        # only the segment, so a sort chosen after the tab was rendered is kept.
        named = [k for k in OWN_PARAMETERS[request.htmx.target] if k in request.GET]
        params = {**current, **{k: params[k] for k in named}}
        push_url = _dashboard_url(params)
    data = selectors.dashboard(
        sort=params["sort"], segment=params["segment"], history_range=params["range"]
    )
    template_name = "market/dashboard.html"
    if request.htmx and request.htmx.target in DASHBOARD_PARTIALS:
        template_name += "#" + DASHBOARD_PARTIALS[request.htmx.target]
    context = {
        "data": data,
        "params": params,
        "session": data.session,
        "refresh": data.refresh,
        # The welcome for a signed-in user with neither a watchlist nor a portfolio yet (the
        # template asks their rows, `own`), on the full page only.
        "may_welcome": not request.htmx,
        "outage": outage_notice(data.refresh.last_run, data.refresh.data_as_of),
        "fragment_seconds": data.fragment_seconds,
        "sort_headers": _sort_headers(params),
        # Callables: evaluated by the template only when their fragment is not cached.
        "segment_links": lambda: _segment_links(params, data.segment_counts),
        "segment_cards": lambda: [
            {
                "figures": seg,
                "url": _dashboard_url(params, segment=seg.segment),
                "hx_url": _segment_hx_url(seg.segment),
            }
            for seg in data.segments
        ],
        "range_links": [
            {**link, "url": _dashboard_url(params, range=link["key"])}
            for link in _range_links(params, SECTOR_RANGES, DASHBOARD_DEFAULTS)
        ],
        "current_query": _dashboard_url(params),
        "history_json_url": reverse("market:sector_history")
        + "?"
        + urlencode({"range": data.history_range}),
        "lean_rule": analytics.LEAN_RULE,
        "column_count": len(MINER_COLUMNS),
    }
    response = render(request, template_name, context)
    if push_url is not None:
        response["HX-Push-Url"] = push_url
    return response


def _chart_time(at: dt.datetime | dt.date) -> int | str:
    """A point's time for the chart: "YYYY-MM-DD" for days; for intraday points, New York wall
    time as a Unix timestamp, since the charting library shows timestamps as UTC."""
    if isinstance(at, dt.datetime):
        local = at.astimezone(NEW_YORK)
        return int(local.replace(tzinfo=dt.UTC).timestamp())
    return at.isoformat()


def _history_payload(history: History, **extra) -> dict:
    def number(value: Decimal) -> float:
        return float(value)

    return {
        **extra,
        "range": history.range.key,
        "intraday": history.range.intraday,
        "points": [
            {"time": _chart_time(p.at), "value": number(p.value), "at": p.at.isoformat()}
            for p in history.points
        ],
    }


@require_GET
def sector_history_json(request: HtmxHttpRequest) -> JsonResponse:
    """The sector's total market cap over a range, for the dashboard chart."""
    chosen = RangeQuery(request.GET).value(selectors.SECTOR_RANGE_KEYS, DEFAULT_SECTOR_RANGE)
    tokens = selectors.current_tokens()
    live_total = None
    if not selectors.SECTOR_RANGE_KEYS[chosen].intraday:
        live_total = selectors.live_sector_total()
    history = selectors.sector_history(chosen, tokens, live_total, load_closes=True)
    response = JsonResponse(_history_payload(history, unit="USD", series="Sector market cap"))
    response["Cache-Control"] = "max-age=30"
    return response


def _not_found(request: HtmxHttpRequest, symbol: str) -> HttpResponse:
    suggestions = selectors.search_instruments(symbol, limit=8)
    return render(
        request,
        "market/miner_not_found.html",
        {"symbol": symbol, "suggestions": suggestions},
        status=404,
    )


MINER_RANGE_DEFAULTS = {"range": DEFAULT_MINER_RANGE}


@require_GET
@conditional_page
@vary_on_headers("HX-Request", "HX-Target")
def miner(request: HtmxHttpRequest, symbol: str) -> HttpResponse:
    instrument = selectors.find_instrument(symbol)
    if instrument is None:
        return _not_found(request, symbol)
    if instrument.symbol != symbol:
        return redirect("market:miner", symbol=instrument.symbol)
    chosen = RangeQuery(request.GET).value(selectors.MINER_RANGE_KEYS, DEFAULT_MINER_RANGE)
    if request.htmx and request.htmx.target == "price-history":
        return render(request, "market/miner.html#history", _miner_context(instrument, chosen))
    # The market part of the page is the same for every visitor: rendered once per market token
    # (which every change of quotes, bars or facts replaces), market day and range, and kept.
    tokens = selectors.current_tokens()
    body = selectors.cached_on_token(
        tokens.market,
        "miner-body",
        (tokens.market_date.isoformat(), instrument.symbol, chosen),
        lambda: render_to_string("market/miner.html#body", _miner_context(instrument, chosen)),
        selectors.FRAGMENT_SECONDS,
    )
    return render(request, "market/miner.html", {"instrument": instrument, "body": body})


def _miner_context(instrument, chosen: str) -> dict:
    detail = selectors.miner_detail(instrument, history_range=chosen)
    params = {"range": chosen}
    instrument_url = reverse("market:miner", args=[instrument.symbol])
    return {
        "detail": detail,
        "instrument": instrument,
        "quote": detail.quote,
        "miner": detail.miner,
        "history": detail.history,
        "range_links": [
            {**link, "url": instrument_url + link["url"].rstrip("?")}
            for link in _range_links(params, MINER_RANGES, MINER_RANGE_DEFAULTS)
        ],
        "bars_json_url": reverse("market:miner_bars", args=[instrument.symbol])
        + "?"
        + urlencode({"range": chosen}),
        "lean_rule": analytics.LEAN_RULE,
        "correlation_window": analytics.CORRELATION_WINDOW,
    }


@require_GET
def miner_bars_json(request: HtmxHttpRequest, symbol: str) -> JsonResponse:
    """Daily closes of one instrument over a range, for its chart."""
    instrument = selectors.find_instrument(symbol)
    if instrument is None:
        raise Http404(f"No instrument {symbol}")
    chosen = RangeQuery(request.GET).value(selectors.MINER_RANGE_KEYS, DEFAULT_MINER_RANGE)
    quote = instrument.quote if selectors.has_quote(instrument) else None
    tokens = selectors.current_tokens()
    series = selectors.instrument_series(instrument.symbol, tokens)
    history = selectors.price_history(
        instrument,
        chosen,
        today=tokens.market_date,
        quote=quote,
        loaded=series.closes,
        bars_token=tokens.bars,
    )
    response = JsonResponse(
        _history_payload(
            history,
            symbol=instrument.symbol,
            unit=instrument.currency,
            series=f"{instrument.symbol} close",
            source=quote.source if quote else "",
        )
    )
    response["Cache-Control"] = "max-age=30"
    return response


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=60, strip=True, label="Symbol or name")
    # "best": open the best match (Enter in the navigation's search box), not the list.
    go = forms.CharField(required=False, max_length=10)


SUGGESTIONS = 6


@require_GET
def miner_search(request: HtmxHttpRequest) -> HttpResponse:
    """Find an instrument by symbol or name; an exact symbol, or `go=best` with any match, goes
    straight to the (best) match's page."""
    form = SearchForm(request.GET)
    valid = form.is_valid()
    text = form.cleaned_data["q"] if valid else ""
    results = selectors.search_instruments(text) if text else selectors.all_instruments()
    best = valid and form.cleaned_data["go"] == "best"
    if text and results and (best or results[0].symbol == text.upper()):
        return redirect("market:miner", symbol=results[0].symbol)
    return render(
        request,
        "market/miner_search.html",
        {"form": SearchForm(initial={"q": text}), "query": text, "results": results},
    )


@require_GET
def miner_suggest(request: HtmxHttpRequest) -> HttpResponse:
    """Suggestions for the navigation's search box: the best matches with price and day change
    (two queries)."""
    form = SearchForm(request.GET)
    text = form.cleaned_data["q"] if form.is_valid() else ""
    found = selectors.search_instruments(text, limit=SUGGESTIONS) if text else []
    quotes = Quote.objects.in_bulk([i.pk for i in found], field_name="instrument_id")
    suggestions = [
        {
            "instrument": instrument,
            "quote": quotes.get(instrument.pk),
            "currency": getattr(quotes.get(instrument.pk), "currency", "") or instrument.currency,
        }
        for instrument in found
    ]
    return render(
        request,
        "market/includes/suggestions.html",
        {"query": text, "suggestions": suggestions},
    )
