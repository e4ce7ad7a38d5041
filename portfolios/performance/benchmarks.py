"""Benchmark series for the performance page: closes of chosen symbols and the miners' sector
total, as floats (they feed statistics and rebased lines only), cached on the bars token."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict

from django.core.cache import cache
from django.db.models import F, FloatField, Q, Sum
from django.db.models.functions import Cast, Coalesce

from config import versions
from market.models import DailyBar
from portfolios.performance.history import LOOKBACK_DAYS

SECTOR = "Miners (sector total)"
BENCHMARK_CACHE_SECONDS = 24 * 3600


def series_of(symbols: list[str], since: dt.date, until: dt.date) -> dict:
    """Daily closes (floats: they only feed statistics and rebased lines) of these symbols and
    the miners' sector total, from a little before `since`; cached on the bars token."""
    token = versions.bars_token()
    key = f"performance:benchmarks:{token}:{','.join(symbols)}:{since}:{until}"
    if token:
        found = cache.get(key)
        if found is not None:
            return found
    series = _load(symbols, since, until)
    if token:
        cache.set(key, series, BENCHMARK_CACHE_SECONDS)
    return series


def _load(symbols: list[str], since: dt.date, until: dt.date) -> dict:
    start = since - dt.timedelta(days=LOOKBACK_DAYS)
    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    rows = DailyBar.objects.filter(
        instrument__symbol__in=symbols, date__gte=start, date__lte=until
    ).order_by("date")
    for symbol, day, close in rows.values_list(
        "instrument__symbol", "date", Cast("close", FloatField())
    ):
        series[symbol][0].append(day)
        series[symbol][1].append(close)
    shares = Coalesce("instrument__shares_outstanding", "instrument__quote__shares_outstanding")
    sector = (
        DailyBar.objects.filter(
            Q(instrument__miner__isnull=False, instrument__is_benchmark=False),
            date__gte=start,
            date__lte=until,
        )
        .values("date")
        .annotate(total=Sum(Cast(F("close"), FloatField()) * Cast(shares, FloatField())))
        .order_by("date")
        .values_list("date", "total")
    )
    for day, total in sector:
        if total:
            series[SECTOR][0].append(day)
            series[SECTOR][1].append(float(total))
    return dict(series)


def rebased(series, base: dt.date, days: list[dt.date]) -> list[float | None]:
    """The series' change since `base` (or its first close) on each day (ascending); None
    before it has any close."""
    dates, closes = series
    i = bisect_right(dates, base) or (1 if dates else 0)
    if not i or not closes[i - 1]:
        return [None] * len(days)
    start = closes[i - 1]
    result, j, count = [], 0, len(dates)
    for day in days:
        while j < count and dates[j] <= day:
            j += 1
        result.append(closes[j - 1] / start - 1 if j else None)
    return result
