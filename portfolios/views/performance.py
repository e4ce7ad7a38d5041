"""Performance pages: value history, returns, benchmarks, risk and contribution, with CSVs."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from config.conditional import conditional_page
from portfolios.forms import DateInput, SymbolField
from portfolios.models import Portfolio
from portfolios.performance import combined, page
from portfolios.performance import report as reports
from portfolios.performance.returns import RANGES
from portfolios.views.common import HtmxHttpRequest

TEMPLATE = "portfolios/performance.html"
TABLES = ("history", "returns", "contribution")
# The contribution table's columns and how rows compare on each.
SORT_KEYS = {
    "symbol": lambda c: c.symbol,
    "start": lambda c: c.start_value,
    "end": lambda c: c.end_value,
    "flow": lambda c: c.net_flow,
    "pnl": lambda c: c.pnl,
    "currency": lambda c: c.currency_pnl,
    "share": lambda c: c.share if c.share is not None else Decimal(0),
}
DEFAULT_SORT = "-pnl"


class RangeForm(forms.Form):
    range = forms.ChoiceField(
        choices=[(key, label) for key, label, _ in RANGES] + [("custom", "Custom")],
        required=False,
    )
    start = forms.DateField(required=False, label="From", widget=DateInput())
    end = forms.DateField(required=False, label="To", widget=DateInput())
    compare = SymbolField(required=False, label="Compare with")
    sort = forms.ChoiceField(
        choices=[(f"{d}{k}", f"{d}{k}") for k in SORT_KEYS for d in ("", "-")], required=False
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if cleaned.get("range") == "custom" or start or end:
            cleaned["range"] = "custom"
            if start and end and start > end:
                self.add_error("end", "The end of the range must come after its start.")
        return cleaned

    def values(self) -> dict:
        if not self.is_valid():
            return {"range_key": "max"}
        data = self.cleaned_data
        return {
            "range_key": data.get("range") or "max",
            "start": data.get("start"),
            "end": data.get("end"),
            "compare": data.get("compare") or "",
        }


def _form(request: HtmxHttpRequest) -> tuple[RangeForm, dict, str]:
    """The range form, what it asks for, and the contribution table's order."""
    form = RangeForm(request.GET or None)
    values = form.values()
    sort = (form.cleaned_data.get("sort") if form.is_bound and form.is_valid() else "") or ""
    return form, values, sort or DEFAULT_SORT


def _report(request: HtmxHttpRequest, pk: int | None):
    """The full report (every day of the range), for the CSVs."""
    form, values, sort = _form(request)
    portfolio = None
    if pk is None:
        report = combined.user_report(request.user, **values)
    else:
        portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
        report = reports.portfolio_report(portfolio, **values)
    report.contributions = _sorted(report.contributions, sort)
    return portfolio, report


def _summary(request: HtmxHttpRequest, pk: int | None):
    """What the page shows, from the cache while nothing it is read from has changed."""
    form, values, sort = _form(request)
    portfolio = None
    if pk is None:
        owner = request.user
        summary = page.cached_summary(
            owner.pk, f"all:{owner.pk}", values, lambda: combined.user_report(owner, **values)
        )
    else:
        portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
        summary = page.cached_summary(
            portfolio.owner_id,
            f"portfolio:{portfolio.pk}",
            values,
            lambda: reports.portfolio_report(portfolio, **values),
        )
    summary.contributions = _sorted(summary.contributions, sort)
    return portfolio, form, summary, sort


def _sorted(rows: list, sort: str) -> list:
    """Holdings by the column (descending with "-"); the cash row stays last."""
    key = SORT_KEYS[sort.lstrip("-")]
    holdings = [r for r in rows if r.instrument_id is not None]
    holdings.sort(key=lambda r: (key(r), r.symbol), reverse=sort.startswith("-"))
    return holdings + [r for r in rows if r.instrument_id is None]


def _sort_links(request: HtmxHttpRequest, current: str) -> dict[str, dict]:
    """Per column: the URL that sorts by it (flipping the order when it is the current one) and
    the aria-sort value."""
    links = {}
    for key in SORT_KEYS:
        params = request.GET.copy()
        descending = current == f"-{key}"
        ascending = current == key
        params["sort"] = key if descending else f"-{key}"
        links[key] = {
            "url": f"?{params.urlencode()}#contribution-title",
            "aria": "descending" if descending else ("ascending" if ascending else "none"),
        }
    return links


def _csv_urls(pk: int | None, query: str) -> dict[str, str]:
    suffix = f"?{query}" if query else ""
    if pk is None:
        return {t: reverse("portfolios:performance_all_csv", args=[t]) + suffix for t in TABLES}
    return {t: reverse("portfolios:performance_csv", args=[pk, t]) + suffix for t in TABLES}


def _render(request: HtmxHttpRequest, pk: int | None) -> HttpResponse:
    portfolio, form, summary, sort = _summary(request, pk)
    query = request.GET.urlencode()
    context = {
        "portfolio": portfolio,
        "form": form,
        "report": summary,
        "ranges": RANGES,
        "csv": _csv_urls(pk, query),
        "sort_links": _sort_links(request, sort),
    }
    return render(request, TEMPLATE, context)


@conditional_page
@login_required
@require_GET
def performance(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _render(request, pk)


@conditional_page
@login_required
@require_GET
def performance_all(request: HtmxHttpRequest) -> HttpResponse:
    return _render(request, None)


def _csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"{v:f}" if isinstance(v, Decimal) else v for v in row])
    return response


def _percent(value) -> str:
    return "" if value is None else f"{value}"


def _table_csv(request: HtmxHttpRequest, pk: int | None, table: str) -> HttpResponse:
    if table not in TABLES:
        raise Http404("No such table.")
    portfolio, report = _report(request, pk)
    stem = f"portfolio-{portfolio.pk}" if portfolio else "portfolios"
    name = f"{stem}-{table}-{dt.date.today().isoformat()}.csv"
    ccy = report.currency
    if table == "history":
        rows = (
            (p.date, p.value, p.market_value, p.cash, p.net_invested, p.pnl, p.flow, ccy)
            for p in report.in_range
        )
        header = ["date", "value", "market_value", "cash", "net_invested", "cumulative_pnl"]
        return _csv_response(name, [*header, "flow", "currency"], rows)
    if table == "returns":
        rows = (
            (
                r.label,
                r.figures.first_date or "",
                r.figures.last_date or "",
                _percent(r.figures.twr),
                _percent(r.figures.mwr),
                _percent(r.figures.xirr),
                r.figures.net,
                _percent(r.figures.net_percent),
                ccy,
            )
            for r in report.ranges
        )
        header = ["range", "from", "to", "time_weighted", "money_weighted", "xirr_per_year"]
        header += ["net_performance", "net_over_capital", "currency"]
        return _csv_response(name, header, rows)
    rows = (
        (
            c.symbol,
            c.name,
            c.start_value,
            c.end_value,
            c.net_flow,
            c.pnl,
            c.currency_pnl,
            _percent(c.share),
            "open" if c.is_open else "closed",
            ccy,
        )
        for c in report.contributions
    )
    header = ["symbol", "name", "start_value", "end_value", "net_cash_in", "pnl"]
    return _csv_response(
        name, [*header, "currency_pnl", "share_of_net", "status", "currency"], rows
    )


@login_required
@require_GET
def performance_csv(request: HtmxHttpRequest, pk: int, table: str) -> HttpResponse:
    return _table_csv(request, pk, table)


@login_required
@require_GET
def performance_all_csv(request: HtmxHttpRequest, table: str) -> HttpResponse:
    return _table_csv(request, None, table)
