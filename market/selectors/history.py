"""Price histories over a range: the sector's market cap and one instrument's closes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from market import analytics
from market.models import (
    DailyBar,
    Instrument,
    PriceSnapshot,
    Quote,
)
from market.rules import NEW_YORK
from market.selectors.cache import CACHE_PREFIX, cache_key, cached_on_token
from market.selectors.freshness import Tokens, market_today
from market.selectors.stats import STATS_CACHE_SECONDS, YEAR_LOOKBACK_DAYS


@dataclass(frozen=True)
class HistoryRange:
    key: str
    label: str
    intraday: bool
    days: int | None  # calendar days back; None for YTD


SECTOR_RANGES = (
    HistoryRange("1D", "1D", True, 1),
    HistoryRange("1W", "1W", True, 7),
    HistoryRange("1M", "1M", False, 31),
    HistoryRange("3M", "3M", False, 92),
    HistoryRange("6M", "6M", False, 183),
    HistoryRange("YTD", "YTD", False, None),
    HistoryRange("1Y", "1Y", False, 366),
    HistoryRange("5Y", "5Y", False, 5 * 366),
)


SECTOR_RANGE_KEYS = {r.key: r for r in SECTOR_RANGES}
DEFAULT_SECTOR_RANGE = "1Y"
MINER_RANGES = tuple(r for r in SECTOR_RANGES if not r.intraday)
MINER_RANGE_KEYS = {r.key: r for r in MINER_RANGES}
DEFAULT_MINER_RANGE = "1Y"


def range_start(history_range: HistoryRange, today: dt.date) -> dt.date:
    """First date of a daily range; YTD starts at the last close of the previous year, so the
    first point is the YTD base (the bars query looks a few days back for it)."""
    if history_range.days is None:
        return dt.date(today.year, 1, 1) - dt.timedelta(days=7)
    return today - dt.timedelta(days=history_range.days)


@dataclass(frozen=True)
class HistoryPoint:
    at: dt.datetime | dt.date
    value: Decimal


@dataclass(frozen=True)
class History:
    range: HistoryRange
    points: list[HistoryPoint]

    @property
    def first(self) -> HistoryPoint | None:
        return self.points[0] if self.points else None

    @property
    def last(self) -> HistoryPoint | None:
        return self.points[-1] if self.points else None

    @property
    def change_percent(self) -> Decimal | None:
        if len(self.points) < 2:
            return None
        return analytics.change_percent(self.points[-1].value, self.points[0].value)

    def sample(self, count: int = 12) -> list[HistoryPoint]:
        """At most `count` evenly spaced points, first and last included: the table fallback."""
        points = self.points
        if len(points) <= count:
            return list(points)
        step = (len(points) - 1) / (count - 1)
        return [points[round(i * step)] for i in range(count)]


def _sector_filter(prefix: str = "instrument__") -> Q:
    return Q(**{f"{prefix}miner__isnull": False, f"{prefix}is_benchmark": False})


def _compute_daily_history(today: dt.date) -> list[tuple[dt.date, Decimal, int]]:
    """(date, sum of close x today's shares, instruments) over five years: one query.

    Closes are split-adjusted, so multiplying them by today's share count puts every day on
    today's share basis (share issuance since then is not reflected). Today's share count is
    the one the latest quote's market cap is priced on, as for the live total."""
    start = today - dt.timedelta(days=5 * 366 + 7)
    shares = Coalesce(
        "instrument__quote__market_cap_shares",
        "instrument__shares_outstanding",
        "instrument__quote__shares_outstanding",
        output_field=DecimalField(max_digits=24, decimal_places=4),
    )
    cap = ExpressionWrapper(
        F("close") * shares, output_field=DecimalField(max_digits=38, decimal_places=2)
    )
    rows = (
        DailyBar.objects.filter(_sector_filter(), date__gte=start)
        .values("date")
        .annotate(total=Sum(cap), count=Count(cap))
        .order_by("date")
        .values_list("date", "total", "count")
    )
    series = [(day, Decimal(total), count) for day, total, count in rows if total is not None]
    # A latest day that only some instruments have reached yet would show as a drop.
    if len(series) >= 2 and series[-1][2] < series[-2][2]:
        series.pop()
    return series


def _daily_history(tokens: Tokens) -> list[tuple[dt.date, Decimal, int]]:
    """Cached per bars token (bars, splits, and the share counts and membership of the sector,
    see market/apps.py) and market day."""
    return cached_on_token(
        tokens.bars,
        "daily-history",
        (tokens.market_date.isoformat(),),
        lambda: _compute_daily_history(tokens.market_date),
        STATS_CACHE_SECONDS,
    )


def _cached_daily_history(tokens: Tokens) -> list[tuple[dt.date, Decimal, int]]:
    """The daily history when the cache has it, else nothing (no query)."""
    if not tokens.bars:
        return []
    key = cache_key("daily-history", tokens.bars, tokens.market_date.isoformat())
    return cache.get(key) or []


def _intraday_history(tokens: Tokens, days: int) -> list[tuple[dt.datetime, Decimal]]:
    """Sum of the miners' snapshot market caps per refresh (taken_at), over the last `days`.

    Cached under the market token (every quotes run that writes snapshots replaces it) and
    extended incrementally: after a change, one query aggregates only the snapshots taken
    since the cached series ends. Refreshes that priced fewer instruments than the others in
    the series (a partial run) are left out, since they would show as dips."""
    key = f"{CACHE_PREFIX}:intraday:{days}"
    cached = cache.get(key) if tokens.market else None
    if cached and cached["version"] == tokens.market:
        return cached["series"]
    series: list[tuple[dt.datetime, Decimal, int]] = cached["raw"] if cached else []
    queryset = PriceSnapshot.objects.filter(_sector_filter(), market_cap__isnull=False)
    if series:
        # Re-read the last refresh too, in case it was still being written last time.
        since = series[-1][0]
        series = series[:-1]
        queryset = queryset.filter(taken_at__gte=since)
    else:
        queryset = queryset.filter(taken_at__gte=timezone.now() - dt.timedelta(days=days, hours=12))
    new = (
        queryset.values("taken_at")
        .annotate(total=Sum("market_cap"), count=Count("id"))
        .order_by("taken_at")
        .values_list("taken_at", "total", "count")
    )
    series = series + [(at, Decimal(total), count) for at, total, count in new]
    if series:
        end = series[-1][0]
        start = _intraday_start(end, days)
        series = [p for p in series if p[0] >= start]
    full = max((count for _, _, count in series), default=0)
    clean = [(at, total) for at, total, count in series if count >= full * 0.9]
    if tokens.market:
        cache.set(
            key, {"version": tokens.market, "raw": series, "series": clean}, STATS_CACHE_SECONDS
        )
    return clean


def _intraday_start(end: dt.datetime, days: int) -> dt.datetime:
    """1D: from the last 04:00 New York time before the latest snapshot; 1W: seven days."""
    local = end.astimezone(NEW_YORK)
    if days == 1:
        start = dt.datetime.combine(local.date(), dt.time(4, 0), tzinfo=NEW_YORK)
        # Before 04:00 the latest day of trading is the previous one.
        return start if start <= local else start - dt.timedelta(days=1)
    return end - dt.timedelta(days=days)


def sector_history(
    history_range: str,
    tokens: Tokens,
    live_total: Decimal | None = None,
    *,
    load_closes: bool = False,
) -> History:
    """The sector's total market cap over a range: per refresh for 1D/1W (snapshots), per day
    from daily bars x today's shares otherwise, ending with today's live total.

    1D and 1W start from the daily closes before the first refresh; `load_closes` computes
    them when the cache does not have them (one more query), else they are used when cached."""
    chosen = SECTOR_RANGE_KEYS.get(history_range) or SECTOR_RANGE_KEYS[DEFAULT_SECTOR_RANGE]
    if chosen.intraday:
        points = [HistoryPoint(at, total) for at, total in _intraday_history(tokens, chosen.days)]
        daily = _daily_history(tokens) if load_closes else _cached_daily_history(tokens)
        return History(chosen, _with_daily_closes(points, daily, chosen.days))
    today = tokens.market_date
    start = range_start(chosen, today)
    series = _daily_history(tokens)
    points = [HistoryPoint(day, total) for day, total, _ in series if day >= start]
    if chosen.days is None:
        # YTD: start at the last close of the previous year.
        year_start = dt.date(today.year, 1, 1)
        before = [p for p in points if p.at < year_start]
        points = before[-1:] + [p for p in points if p.at >= year_start]
    if live_total is not None and live_total > 0:
        _end_at(points, today, live_total)
    return History(chosen, points)


def _end_at(points: list[HistoryPoint], day: dt.date, value: Decimal) -> None:
    """End a daily series at the live value: today's point is the live one, whether or not
    today's bar is in already (a bar written during the day lags the latest quote)."""
    if points and points[-1].at == day:
        points[-1] = HistoryPoint(day, value)
    elif not points or points[-1].at < day:
        points.append(HistoryPoint(day, value))


def _close_time(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(16, 0), tzinfo=NEW_YORK)


def _with_daily_closes(
    points: list[HistoryPoint], daily: list[tuple[dt.date, Decimal, int]], days: int
) -> list[HistoryPoint]:
    """An intraday series that starts from the daily closes before its first refresh: right
    after a start, 1D runs from the last close and 1W from the week's closes to the refreshes
    there are, instead of a flat line over a few minutes."""
    first = points[0].at if points else timezone.now()
    start = first - dt.timedelta(days=days)
    earlier = [
        HistoryPoint(_close_time(day), total)
        for day, total, _ in daily
        if start <= _close_time(day) < first
    ]
    if days == 1:
        earlier = earlier[-1:]  # the last close: where today's line starts from
    return earlier + points


def price_history(
    instrument: Instrument,
    history_range: str,
    *,
    today: dt.date | None = None,
    quote: Quote | None = None,
    loaded: Sequence[tuple[dt.date, Decimal]] | None = None,
    bars_token: str = "",
) -> History:
    """Daily closes of one instrument over a range, ending with today's price when the latest
    quote is newer than the last bar. Uses the `loaded` (date, close) pairs when they reach back
    far enough, else one query (cached under the `bars_token` when given)."""
    today = today or market_today()
    chosen = MINER_RANGE_KEYS.get(history_range) or MINER_RANGE_KEYS[DEFAULT_MINER_RANGE]
    start = range_start(chosen, today)
    if loaded is not None and start >= today - dt.timedelta(days=YEAR_LOOKBACK_DAYS):
        closes = [(day, close) for day, close in loaded if day >= start]
    else:

        def query() -> list[tuple[dt.date, Decimal]]:
            return list(
                DailyBar.objects.filter(instrument=instrument, date__gte=start)
                .order_by("date")
                .values_list("date", "close")
            )

        closes = cached_on_token(
            bars_token, "closes", (instrument.symbol, str(start)), query, STATS_CACHE_SECONDS
        )
    points = [HistoryPoint(day, close) for day, close in closes]
    if chosen.days is None:
        year_start = dt.date(today.year, 1, 1)
        before = [p for p in points if p.at < year_start]
        points = before[-1:] + [p for p in points if p.at >= year_start]
    if quote is not None:
        quote_day = (quote.provider_time or quote.fetched_at).astimezone(NEW_YORK).date()
        _end_at(points, quote_day, quote.price)
    return History(chosen, points)


def live_sector_total() -> Decimal | None:
    """The miners' total market cap from their latest quotes: one aggregate query."""
    cap = Coalesce(
        "market_cap",
        ExpressionWrapper(
            F("price") * F("instrument__shares_outstanding"),
            output_field=DecimalField(max_digits=38, decimal_places=2),
        ),
    )
    return Quote.objects.filter(
        instrument__miner__isnull=False,
        instrument__is_benchmark=False,
        instrument__is_active=True,
    ).aggregate(total=Sum(cap))["total"]
