"""CSV downloads of public market data: the miners table and a symbol's daily history."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from market import csv_export, selectors
from market.models import Instrument
from market.presentation import miners_table
from market.views import DashboardQuery

DEFAULT_HISTORY_DAYS = 365
EARLIEST_DATE = dt.date(1900, 1, 1)


def _bad_request(message: str) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(message + "\n", content_type="text/plain; charset=utf-8")


def _query_date(request: HttpRequest, name: str) -> dt.date | None:
    """The ISO date in query parameter `name`, None when absent; ValueError when malformed."""
    text = request.GET.get(name, "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}={text[:40]!r} is not a date: use YYYY-MM-DD.") from None
    if not EARLIEST_DATE <= day <= timezone.localdate():
        raise ValueError(f"{name}={day} is out of range: use a date from {EARLIEST_DATE} to today.")
    return day


@require_GET
def daily_history_csv(request: HttpRequest, symbol: str) -> HttpResponse:
    instrument = get_object_or_404(Instrument, symbol=symbol.upper())
    today = timezone.localdate()
    try:
        start = _query_date(request, "start")
        end = _query_date(request, "end")
    except ValueError as exc:
        return _bad_request(str(exc))
    end = end or today
    start = start or max(EARLIEST_DATE, end - dt.timedelta(days=DEFAULT_HISTORY_DAYS))
    if start > end:
        return _bad_request(f"start ({start}) is after end ({end}).")
    filename = csv_export.export_filename(instrument.symbol, "daily", f"{start}-to-{end}", on=today)
    return csv_export.csv_response(
        filename,
        csv_export.DAILY_HISTORY_HEADER,
        csv_export.daily_history_rows(instrument, start, end),
    )


@require_GET
def miners_csv(request: HttpRequest) -> HttpResponse:
    """The dashboard's miners table, read with the dashboard's own `sort` and `segment` query
    parameters (unknown values fall back to its defaults, as on the page)."""
    params = DashboardQuery(request.GET).values()
    rows = selectors.instrument_rows(selectors.instrument_stats(selectors.current_tokens()))
    segment = params["segment"] or None
    table = miners_table(rows, sort=params["sort"], segment=segment)
    parts = ["miners", segment] if segment else ["miners"]
    return csv_export.csv_response(
        csv_export.export_filename(*parts, on=timezone.localdate()),
        csv_export.MINERS_HEADER,
        csv_export.miners_rows(table),
    )
