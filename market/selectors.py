"""Reads for the sector dashboard and the miner pages, with query counts that do not grow with
the universe.

A dashboard request costs three queries when its caches are warm (data versions, the latest
refresh run, one row per instrument with its quote and miner facts) and at most six when they
are cold. What depends only on the daily bars (the YTD base, the 52-week range, correlations
and betas, the daily sector history) is computed for all instruments at once and cached under
the bars' version, so it is recomputed when new bars or splits arrive, not per request.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from market import analytics, sessions
from market.analytics import PriceRange, Relation, TradesLike
from market.models import (
    DailyBar,
    Instrument,
    MarketState,
    Miner,
    PriceSnapshot,
    Quote,
    RefreshRun,
    SplitEvent,
)

NEW_YORK = ZoneInfo(settings.MARKET_TIME_ZONE)
BITCOIN = "BTC-USD"
AI_BENCHMARKS = ("NVDA", "SMH")
RELATION_BENCHMARKS = (BITCOIN, *AI_BENCHMARKS)
# Calendar days of bars loaded for correlations: comfortably more than 90 trading days.
CORRELATION_LOOKBACK_DAYS = 150
# Calendar days of bars loaded for one instrument's YTD, 52-week range and correlations.
YEAR_LOOKBACK_DAYS = 400
STATS_CACHE_SECONDS = 24 * 3600
MOVERS_COUNT = 5
CACHE_PREFIX = "market:v1"

QUOTE_FIELDS = (
    "price",
    "previous_close",
    "change",
    "change_percent",
    "market_state",
    "pre_market_price",
    "pre_market_change",
    "pre_market_change_percent",
    "post_market_price",
    "post_market_change",
    "post_market_change_percent",
    "day_high",
    "day_low",
    "volume",
    "shares_outstanding",
    "market_cap",
    "provider_time",
    "fetched_at",
    "source",
)


# --- Versions and the latest refresh -----------------------------------------------------------


@dataclass(frozen=True)
class DataVersions:
    """Cheap fingerprints of what the cached computations and page fragments depend on."""

    bars: str
    profiles: str
    snapshots: str
    quotes: str
    facts: str
    market_date: dt.date
    miners_quoted_at: dt.datetime | None = None

    @property
    def stats_key(self) -> str:
        return _cache_key("stats", self.bars, self.market_date.isoformat())

    @property
    def daily_history_key(self) -> str:
        return _cache_key("daily-history", self.bars, self.profiles, self.market_date.isoformat())

    @property
    def page_key(self) -> str:
        """Changes whenever anything a dashboard fragment shows may have changed."""
        return _cache_key(
            "page",
            self.bars,
            self.profiles,
            self.snapshots,
            self.quotes,
            self.facts,
            self.market_date.isoformat(),
        )


def _cache_key(name: str, *parts: str) -> str:
    digest = hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"{CACHE_PREFIX}:{name}:{digest}"


# Values computed from the bars are big (one entry per instrument) and change about once a day.
# Each process keeps the last ones it unpickled, and checks with one small cache read (a token)
# that the shared cache still holds the same computation: a cache clear or a recomputation by
# another process changes the token.
_memo: dict[str, tuple[str, Any]] = {}
MEMO_SIZE = 16


def cached(key: str, compute, timeout: int):
    """`compute()` cached under `key` in Django's cache, and memoised in the process."""
    token = cache.get(f"{key}:token")
    if token is not None:
        memo = _memo.get(key)
        if memo is not None and memo[0] == token:
            return memo[1]
        stored = cache.get(key)
        if stored is not None and stored[0] == token:
            _remember(key, stored)
            return stored[1]
    value = compute()
    token = uuid.uuid4().hex
    cache.set_many({key: (token, value), f"{key}:token": token}, timeout)
    _remember(key, (token, value))
    return value


def _remember(key: str, entry: tuple[str, Any]) -> None:
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()
    _memo[key] = entry


def forget_memo() -> None:
    """Drop the process's memo (the bench uses it to measure a cold start)."""
    _memo.clear()


def market_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(NEW_YORK).date()


def _as_datetime(value) -> dt.datetime | None:
    """A datetime from a raw query: PostgreSQL gives an aware one, SQLite a naive UTC string."""
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def data_versions(now: dt.datetime | None = None) -> DataVersions:
    """One query: fingerprints of the bars, splits, profiles, snapshots, quotes and company facts.

    The quotes and facts fingerprints are weighted sums over the columns the pages show, so that
    a refresh or an edit in the admin changes them whatever it touched (page fragments also
    expire after FRAGMENT_SECONDS, as a backstop)."""
    bar = DailyBar._meta.db_table
    split = SplitEvent._meta.db_table
    run = RefreshRun._meta.db_table
    instrument = Instrument._meta.db_table
    snapshot = PriceSnapshot._meta.db_table
    quote = Quote._meta.db_table
    miner = Miner._meta.db_table
    segment_codes = " ".join(
        f"WHEN '{value}' THEN {index + 1}" for index, (value, _) in enumerate(Miner.Segment.choices)
    )
    sql = (
        f"SELECT (SELECT MAX(id) FROM {bar}), (SELECT COUNT(*) FROM {split}),"
        f" (SELECT MAX(id) FROM {split}),"
        f" (SELECT id FROM {run} WHERE kind = %s AND finished_at IS NOT NULL"
        " ORDER BY started_at DESC LIMIT 1),"
        f" (SELECT MAX(profile_updated_at) FROM {instrument}),"
        f" (SELECT SUM(COALESCE(shares_outstanding, 0)) FROM {instrument}),"
        f" (SELECT SUM(COALESCE(enterprise_value, 0)) FROM {instrument}),"
        f" (SELECT SUM(id * (LENGTH(name) + 2 * LENGTH(symbol)"
        " + CASE WHEN is_active THEN 3 ELSE 5 END + CASE WHEN is_benchmark THEN 7 ELSE 11 END))"
        f" FROM {instrument}),"
        f" (SELECT MAX(taken_at) FROM {snapshot}),"
        f" (SELECT MAX(fetched_at) FROM {quote}), (SELECT COUNT(*) FROM {quote}),"
        f" (SELECT SUM(id * (price + COALESCE(market_cap, 0) / 1000000"
        " + COALESCE(pre_market_price, 0) * 3 + COALESCE(post_market_price, 0) * 5"
        f" + LENGTH(market_state) * 7 + LENGTH(source) * 11)) FROM {quote}),"
        f" (SELECT MAX(q.fetched_at) FROM {quote} q"
        f" INNER JOIN {miner} m ON m.instrument_id = q.instrument_id"
        f" INNER JOIN {instrument} i ON i.id = q.instrument_id"
        " WHERE i.is_active AND NOT i.is_benchmark),"
        f" (SELECT COUNT(*) FROM {miner}),"
        f" (SELECT SUM(id * (CASE segment {segment_codes} ELSE 9 END"
        " + COALESCE(hashrate_eh, -1) * 13 + COALESCE(hpc_contracted_mw, -1) * 17"
        " + COALESCE(power_mw, -1) * 19 + LENGTH(sources) + LENGTH(notes)"
        " + LENGTH(hpc_counterparties) + LENGTH(hashrate_as_of) + LENGTH(hpc_as_of)))"
        f" FROM {miner})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [RefreshRun.Kind.BARS])
        (
            max_bar,
            split_count,
            max_split,
            bars_run,
            profiles_at,
            shares_sum,
            ev_sum,
            instrument_sum,
            snapshot_at,
            quote_at,
            quote_count,
            quote_sum,
            miners_quoted_at,
            miner_count,
            miner_sum,
        ) = cursor.fetchone()
    return DataVersions(
        bars=f"{max_bar}-{split_count}-{max_split}-{bars_run}-{instrument_sum}",
        profiles=f"{profiles_at}-{shares_sum}-{ev_sum}",
        snapshots=str(snapshot_at),
        quotes=f"{quote_at}-{quote_count}-{quote_sum}",
        facts=f"{instrument_sum}-{miner_count}-{miner_sum}",
        market_date=market_today(now),
        miners_quoted_at=_as_datetime(miners_quoted_at),
    )


@dataclass(frozen=True)
class RefreshState:
    """What the pages say about the freshness of the data."""

    last_run: RefreshRun | None
    data_as_of: dt.datetime | None
    now: dt.datetime
    # Quotes older than this are called stale (the refresh cadence of the session, with slack).
    stale_after: dt.timedelta = dt.timedelta(minutes=10)

    @property
    def stale(self) -> bool:
        age = self.age
        return age is not None and age > self.stale_after

    @property
    def failed(self) -> bool:
        return self.last_run is not None and self.last_run.status == RefreshRun.Status.FAILED

    @property
    def partial(self) -> bool:
        return self.last_run is not None and self.last_run.status == RefreshRun.Status.PARTIAL

    @property
    def age(self) -> dt.timedelta | None:
        return self.now - self.data_as_of if self.data_as_of else None

    @property
    def error_summary(self) -> str:
        if self.last_run is None:
            return ""
        text = (self.last_run.error_text or "").strip().splitlines()
        return text[0][:200] if text else ""


def latest_quotes_run() -> RefreshRun | None:
    return (
        RefreshRun.objects.filter(kind=RefreshRun.Kind.QUOTES)
        .exclude(status=RefreshRun.Status.SKIPPED)
        .order_by("-started_at")
        .only(
            "id",
            "kind",
            "status",
            "started_at",
            "finished_at",
            "error_count",
            "requested_count",
            "error_text",
        )
        .first()
    )


def stale_after(market_open: bool) -> dt.timedelta:
    """How old quotes may be before the pages call them stale: a refresh runs every minute
    while the market trades, every CLOSED_MARKET_REFRESH_MINUTES otherwise."""
    if market_open:
        return dt.timedelta(minutes=10)
    return dt.timedelta(minutes=2 * settings.CLOSED_MARKET_REFRESH_MINUTES + 10)


# --- Per-instrument statistics from daily bars -------------------------------------------------


@dataclass(frozen=True)
class InstrumentStats:
    """What the daily bars say about one instrument; combined with the live price per request."""

    ytd_base: Decimal | None
    range_52w: PriceRange | None
    last_bar_date: dt.date | None
    relations: dict[str, Relation] = field(default_factory=dict)
    trades_like: TradesLike = field(default_factory=lambda: analytics.trades_like(None, []))

    def ytd_percent(self, price: Decimal | None) -> Decimal | None:
        return analytics.change_percent(price, self.ytd_base)

    def range_with(self, price: Decimal | None) -> PriceRange | None:
        """The 52-week range stretched to include today's price."""
        if self.range_52w is None:
            return PriceRange(price, price) if price is not None else None
        if price is None:
            return self.range_52w
        return PriceRange(min(self.range_52w.low, price), max(self.range_52w.high, price))


def _relations_for(
    series: dict[str, list[tuple[dt.date, Decimal]]], symbol: str
) -> tuple[dict[str, Relation], TradesLike]:
    own = series.get(symbol, [])
    relations = {
        bench: analytics.relation(own, series.get(bench, []), benchmark_symbol=bench)
        for bench in RELATION_BENCHMARKS
        if bench != symbol
    }
    label = analytics.trades_like(
        relations.get(BITCOIN), [relations[b] for b in AI_BENCHMARKS if b in relations]
    )
    return relations, label


def _compute_all_stats(today: dt.date) -> dict[int, InstrumentStats]:
    """Two queries, whatever the number of instruments: one aggregate for the YTD base, the
    52-week range and the last bar date; one for the recent adjusted closes behind the
    correlations (the miners' and the benchmarks' in the same query)."""
    year_start = dt.date(today.year, 1, 1)
    window_start = analytics.fifty_two_week_start(today)
    ytd_base = Subquery(
        DailyBar.objects.filter(instrument=OuterRef("pk"), date__lt=year_start)
        .order_by("-date")
        .values("adj_close")[:1]
    )
    in_window = Q(bars__date__gte=window_start, bars__date__lte=today)
    aggregates = (
        Instrument.objects.filter(Q(miner__isnull=False) | Q(symbol__in=RELATION_BENCHMARKS))
        .annotate(
            ytd_base=ytd_base,
            range_high=Max(Coalesce("bars__high", "bars__close"), filter=in_window),
            range_low=Min(Coalesce("bars__low", "bars__close"), filter=in_window),
            last_bar=Max("bars__date"),
        )
        .values_list("id", "symbol", "ytd_base", "range_high", "range_low", "last_bar")
    )
    rows = list(aggregates)
    symbols = {pk: symbol for pk, symbol, *_ in rows}
    series: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    closes = (
        DailyBar.objects.filter(
            instrument_id__in=list(symbols),
            date__gte=today - dt.timedelta(days=CORRELATION_LOOKBACK_DAYS),
        )
        .order_by()
        .values_list("instrument_id", "date", "adj_close")
    )
    for instrument_id, day, close in closes.iterator(chunk_size=5000):
        series[symbols[instrument_id]].append((day, close))
    stats = {}
    for pk, symbol, base, high, low, last_bar in rows:
        relations, label = _relations_for(series, symbol)
        stats[pk] = InstrumentStats(
            ytd_base=base,
            range_52w=PriceRange(low, high) if low is not None and high is not None else None,
            last_bar_date=last_bar,
            relations=relations,
            trades_like=label,
        )
    return stats


def instrument_stats(versions: DataVersions) -> dict[int, InstrumentStats]:
    """Stats of every miner and benchmark, keyed by instrument id, cached per bars version."""
    return cached(
        versions.stats_key, lambda: _compute_all_stats(versions.market_date), STATS_CACHE_SECONDS
    )


# --- Rows of the dashboard ---------------------------------------------------------------------


@dataclass
class InstrumentRow:
    """One instrument on the dashboard: its facts, its latest quote (a dict, or None) and stats."""

    id: int
    symbol: str
    name: str
    kind: str
    is_benchmark: bool
    segment: str
    segment_label: str
    hashrate_eh: Decimal | None
    hpc_contracted_mw: Decimal | None
    enterprise_value: Decimal | None
    shares: int | None
    quote: dict[str, Any] | None
    stats: InstrumentStats | None

    @property
    def url(self) -> str:
        return miner_url(self.symbol)

    @property
    def segment_short_label(self) -> str:
        return SEGMENT_SHORT_LABELS.get(self.segment, self.segment_label)

    @property
    def price(self) -> Decimal | None:
        return self.quote["price"] if self.quote else None

    @property
    def change_percent(self) -> Decimal | None:
        return self.quote["change_percent"] if self.quote else None

    @property
    def extended_change_percent(self) -> Decimal | None:
        """The pre-market change while pre-market trades, else the after-hours one (or None)."""
        if not self.quote:
            return None
        state = self.quote["market_state"]
        if state == MarketState.PRE:
            return self.quote["pre_market_change_percent"]
        if state != MarketState.REGULAR:
            return self.quote["post_market_change_percent"]
        return None

    @cached_property
    def market_cap(self) -> Decimal | None:
        if not self.quote:
            return None
        if self.quote["market_cap"] is not None:
            return self.quote["market_cap"]
        if self.shares and self.quote["price"] is not None:
            return self.quote["price"] * self.shares
        return None

    @cached_property
    def share_count(self) -> Decimal | None:
        """Shares behind the market cap: the quote's count, the profile's, or cap / price."""
        if self.quote and self.quote["shares_outstanding"]:
            return Decimal(self.quote["shares_outstanding"])
        if self.shares:
            return Decimal(self.shares)
        cap, price = self.market_cap, self.price
        if cap is not None and price:
            return cap / price
        return None

    def _cap_change(self, change: Decimal | None) -> Decimal | None:
        shares = self.share_count
        if change is None or shares is None:
            return None
        return change * shares

    @property
    def cap_change(self) -> Decimal | None:
        if not self.quote:
            return None
        change = self.quote["change"]
        if change is None and self.quote["previous_close"] is not None:
            change = self.quote["price"] - self.quote["previous_close"]
        return self._cap_change(change)

    @property
    def pre_market_cap_change(self) -> Decimal | None:
        return self._cap_change(self.quote["pre_market_change"]) if self.quote else None

    @property
    def post_market_cap_change(self) -> Decimal | None:
        return self._cap_change(self.quote["post_market_change"]) if self.quote else None

    @cached_property
    def ytd_percent(self) -> Decimal | None:
        return self.stats.ytd_percent(self.price) if self.stats else None

    @property
    def ytd_base_cap(self) -> Decimal | None:
        """Market cap at the YTD base close on today's share count."""
        shares = self.share_count
        if not self.stats or self.stats.ytd_base is None or shares is None:
            return None
        return self.stats.ytd_base * shares

    @cached_property
    def range_52w(self) -> PriceRange | None:
        return self.stats.range_with(self.price) if self.stats else None

    @cached_property
    def range_position(self) -> Decimal | None:
        price_range = self.range_52w
        return price_range.position_percent(self.price) if price_range else None

    @cached_property
    def ev_per_eh(self) -> Decimal | None:
        """Enterprise value over hashrate; None when either is unknown (or the hashrate is 0)."""
        if self.enterprise_value is None or not self.hashrate_eh:
            return None
        return self.enterprise_value / self.hashrate_eh

    @property
    def trades_like(self) -> TradesLike | None:
        return self.stats.trades_like if self.stats else None

    @property
    def as_of(self) -> dt.datetime | None:
        if not self.quote:
            return None
        return self.quote["provider_time"] or self.quote["fetched_at"]

    @property
    def simulated(self) -> bool:
        return bool(self.quote) and self.quote["source"] == "simulated"


SEGMENT_LABELS = dict(Miner.Segment.choices)
# Short labels for narrow table cells; the full label goes in the title.
SEGMENT_SHORT_LABELS = {
    Miner.Segment.MINER: "Miner",
    Miner.Segment.PIVOT: "Pivot",
    Miner.Segment.AI_HPC: "AI/HPC",
    Miner.Segment.HARDWARE: "Hardware",
}


@lru_cache(maxsize=1)
def _miner_url_pattern() -> tuple[str, str]:
    placeholder = "SYMBOL"
    head, _, tail = reverse("market:miner", args=[placeholder]).partition(placeholder)
    return head, tail


def miner_url(symbol: str) -> str:
    """reverse("market:miner", args=[symbol]) without resolving the URLconf for every row."""
    head, tail = _miner_url_pattern()
    return f"{head}{quote(symbol, safe='')}{tail}"


def instrument_rows(stats: dict[int, InstrumentStats]) -> list[InstrumentRow]:
    """Every active miner and benchmark with its quote and facts: one query."""
    columns = [
        "id",
        "symbol",
        "name",
        "kind",
        "is_benchmark",
        "shares_outstanding",
        "enterprise_value",
        "miner__segment",
        "miner__hashrate_eh",
        "miner__hpc_contracted_mw",
        "quote__id",
        *(f"quote__{name}" for name in QUOTE_FIELDS),
    ]
    rows = []
    queryset = (
        Instrument.objects.filter(is_active=True)
        .filter(Q(miner__isnull=False) | Q(is_benchmark=True))
        .order_by("symbol")
        .values_list(*columns)
    )
    quote_start = columns.index("quote__id") + 1
    for values in queryset:
        (pk, symbol, name, kind, is_benchmark, shares, ev, segment, hashrate, hpc, quote_id) = (
            values[:quote_start]
        )
        quote = (
            dict(zip(QUOTE_FIELDS, values[quote_start:], strict=True))
            if quote_id is not None
            else None
        )
        rows.append(
            InstrumentRow(
                id=pk,
                symbol=symbol,
                name=name,
                kind=kind,
                is_benchmark=is_benchmark or segment is None,
                segment=segment or "",
                segment_label=SEGMENT_LABELS.get(segment, ""),
                hashrate_eh=hashrate,
                hpc_contracted_mw=hpc,
                enterprise_value=ev,
                shares=shares,
                quote=quote,
                stats=stats.get(pk),
            )
        )
    return rows


# --- Sorting and filtering the miners table ----------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool
    descending_first: bool
    title: str = ""


MINER_COLUMNS = (
    Column("symbol", "Symbol", False, False),
    Column("name", "Name", False, False),
    Column("segment", "Segment", False, False),
    Column("price", "Price", True, True),
    Column("day", "Day", True, True),
    Column("ext", "Pre/post", True, True, "Pre-market change, or after hours after the close"),
    Column("cap", "Market cap", True, True),
    Column("ytd", "YTD", True, True, "Change since the last adjusted close of last year"),
    Column("range", "52-week range", True, True, "Sorted by where the price sits in the range"),
    Column("hashrate", "EH/s", True, True, "Hashrate, exahashes per second"),
    Column("hpc", "HPC MW", True, True, "AI/HPC capacity under contract, megawatts"),
    Column("ev_eh", "EV / EH/s", True, False, "Enterprise value per EH/s of hashrate"),
    Column("like", "Trades like", False, True, analytics.LEAN_RULE),
)
COLUMN_KEYS = frozenset(column.key for column in MINER_COLUMNS)
DEFAULT_SORT = "-cap"

_SORT_VALUES = {
    "symbol": lambda r: r.symbol,
    "name": lambda r: r.name.lower(),
    "segment": lambda r: r.segment_label,
    "price": lambda r: r.price,
    "day": lambda r: r.change_percent,
    "ext": lambda r: r.extended_change_percent,
    "cap": lambda r: r.market_cap,
    "ytd": lambda r: r.ytd_percent,
    "range": lambda r: r.range_position,
    "hashrate": lambda r: r.hashrate_eh,
    "hpc": lambda r: r.hpc_contracted_mw,
    "ev_eh": lambda r: r.ev_per_eh,
    "like": lambda r: r.trades_like.sort_value if r.trades_like else None,
}


def parse_sort(sort: str | None) -> tuple[str, bool]:
    """("cap", True) for "-cap"; the default for anything unknown."""
    sort = sort or DEFAULT_SORT
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in COLUMN_KEYS:
        return parse_sort(DEFAULT_SORT)
    return key, descending


def sort_rows(rows: Iterable[InstrumentRow], sort: str | None) -> list[InstrumentRow]:
    """Sorted by the column; rows without a value go last in either direction; ties by symbol."""
    key, descending = parse_sort(sort)
    value_of = _SORT_VALUES[key]
    by_symbol = sorted(rows, key=lambda r: r.symbol)
    known = [r for r in by_symbol if value_of(r) is not None]
    unknown = [r for r in by_symbol if value_of(r) is None]
    return sorted(known, key=value_of, reverse=descending) + unknown


def miners_table(
    rows: Sequence[InstrumentRow], *, sort: str | None, segment: str | None
) -> list[InstrumentRow]:
    """The miners (benchmarks excluded) of one segment, or all, sorted."""
    miners = [r for r in rows if not r.is_benchmark]
    if segment:
        miners = [r for r in miners if r.segment == segment]
    return sort_rows(miners, sort)


# --- Sector summary, segments, movers ----------------------------------------------------------


@dataclass(frozen=True)
class SectorSummary:
    total: analytics.TotalChange
    pre_market: analytics.TotalChange | None
    post_market: analytics.TotalChange | None
    milestone: analytics.Milestone | None
    ytd_percent: Decimal | None
    count: int
    priced: int
    simulated: bool
    data_as_of: dt.datetime | None


def _ytd_of(rows: Iterable[InstrumentRow]) -> Decimal | None:
    """Cap-weighted YTD: today's caps over the caps at the YTD base, of rows that have both."""
    now = Decimal(0)
    base = Decimal(0)
    for row in rows:
        cap, base_cap = row.market_cap, row.ytd_base_cap
        if cap is not None and base_cap is not None:
            now += cap
            base += base_cap
    return analytics.change_percent(now, base) if base > 0 else None


def sector_summary(rows: Sequence[InstrumentRow], session_state: str) -> SectorSummary:
    """Total market cap of the miners (benchmarks excluded), today's change, the extended-hours
    change while it trades, the next milestone and the freshness of the quotes."""
    miners = [r for r in rows if not r.is_benchmark]
    total = analytics.total_change((r.market_cap, r.cap_change) for r in miners)

    def extended(change_of) -> analytics.TotalChange | None:
        moves = [(r.market_cap, change_of(r)) for r in miners if change_of(r) is not None]
        if not moves:
            return None
        # The extended-hours move is measured from the regular session's total.
        change = sum((c for _, c in moves), Decimal(0))
        base = total.total
        return analytics.TotalChange(
            base + change, change, change / base * analytics.HUNDRED if base > 0 else None
        )

    fetched = [r.quote["fetched_at"] for r in miners if r.quote]
    return SectorSummary(
        total=total,
        pre_market=extended(lambda r: r.pre_market_cap_change)
        if session_state == MarketState.PRE
        else None,
        post_market=extended(lambda r: r.post_market_cap_change)
        if session_state == MarketState.POST
        else None,
        milestone=analytics.next_milestone(
            total.total if total.total > 0 else None, settings.SECTOR_MILESTONES
        ),
        ytd_percent=_ytd_of(miners),
        count=len(miners),
        priced=len(fetched),
        simulated=any(r.simulated for r in miners),
        data_as_of=max(fetched) if fetched else None,
    )


@dataclass(frozen=True)
class SegmentFigures:
    segment: str
    label: str
    count: int
    market_cap: Decimal
    share_percent: Decimal | None
    day_percent: Decimal | None
    ytd_percent: Decimal | None
    hpc_contracted_mw: Decimal
    symbols: list[str]


def segment_comparison(rows: Sequence[InstrumentRow]) -> list[SegmentFigures]:
    """Market cap, day % and YTD % per segment (cap-weighted), in the segments' order."""
    miners = [r for r in rows if not r.is_benchmark]
    sector_cap = sum((r.market_cap or Decimal(0) for r in miners), Decimal(0))
    figures = []
    for segment, label in Miner.Segment.choices:
        members = [r for r in miners if r.segment == segment]
        if not members:
            continue
        members.sort(key=lambda r: r.market_cap or Decimal(0), reverse=True)
        total = analytics.total_change((r.market_cap, r.cap_change) for r in members)
        figures.append(
            SegmentFigures(
                segment=segment,
                label=label,
                count=len(members),
                market_cap=total.total,
                share_percent=total.total / sector_cap * analytics.HUNDRED
                if sector_cap > 0
                else None,
                day_percent=total.percent,
                ytd_percent=_ytd_of(members),
                hpc_contracted_mw=sum(
                    (r.hpc_contracted_mw or Decimal(0) for r in members), Decimal(0)
                ),
                symbols=[r.symbol for r in members],
            )
        )
    return figures


@dataclass(frozen=True)
class MoverList:
    pre_market: bool
    gainers: list[InstrumentRow]
    losers: list[InstrumentRow]


def movers(rows: Sequence[InstrumentRow], session_state: str) -> MoverList:
    """Top gainers and losers today; by pre-market change while pre-market trades."""
    miners = [r for r in rows if not r.is_benchmark]
    pre = session_state == MarketState.PRE and any(
        r.quote and r.quote["pre_market_change_percent"] is not None for r in miners
    )
    if pre:
        result = analytics.movers(
            miners,
            key=lambda r: r.quote["pre_market_change_percent"] if r.quote else None,
            count=MOVERS_COUNT,
        )
    else:
        result = analytics.movers(miners, key=lambda r: r.change_percent, count=MOVERS_COUNT)
    return MoverList(pre, result.gainers, result.losers)


# --- Sector history ----------------------------------------------------------------------------


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


def _compute_daily_history() -> list[tuple[dt.date, Decimal, int]]:
    """(date, sum of close x today's shares, instruments) over five years: one query.

    Closes are split-adjusted, so multiplying them by today's share count puts every day on
    today's share basis (share issuance since then is not reflected)."""
    start = market_today() - dt.timedelta(days=5 * 366 + 7)
    shares = Coalesce("instrument__shares_outstanding", "instrument__quote__shares_outstanding")
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


def _daily_history(versions: DataVersions) -> list[tuple[dt.date, Decimal, int]]:
    return cached(versions.daily_history_key, _compute_daily_history, STATS_CACHE_SECONDS)


def _intraday_history(versions: DataVersions, days: int) -> list[tuple[dt.datetime, Decimal]]:
    """Sum of the miners' snapshot market caps per refresh (taken_at), over the last `days`.

    Cached and extended incrementally: each call aggregates only the snapshots taken since the
    cached series ends (one query). Refreshes that priced fewer instruments than the others in
    the series (a partial run) are left out, since they would show as dips."""
    key = f"{CACHE_PREFIX}:intraday:{days}"
    cached = cache.get(key)
    if cached and cached["version"] == versions.snapshots:
        return cached["series"]
    if versions.snapshots == "None":
        return []
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
    cache.set(
        key, {"version": versions.snapshots, "raw": series, "series": clean}, STATS_CACHE_SECONDS
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
    history_range: str, versions: DataVersions, live_total: Decimal | None = None
) -> History:
    """The sector's total market cap over a range: per refresh for 1D/1W (snapshots), per day
    from daily bars x today's shares otherwise, ending with today's live total."""
    chosen = SECTOR_RANGE_KEYS.get(history_range) or SECTOR_RANGE_KEYS[DEFAULT_SECTOR_RANGE]
    if chosen.intraday:
        points = [HistoryPoint(at, total) for at, total in _intraday_history(versions, chosen.days)]
        return History(chosen, points)
    today = versions.market_date
    start = range_start(chosen, today)
    series = _daily_history(versions)
    points = [HistoryPoint(day, total) for day, total, _ in series if day >= start]
    if chosen.days is None:
        # YTD: start at the last close of the previous year.
        year_start = dt.date(today.year, 1, 1)
        before = [p for p in points if p.at < year_start]
        points = before[-1:] + [p for p in points if p.at >= year_start]
    if live_total is not None and live_total > 0 and (not points or points[-1].at < today):
        points.append(HistoryPoint(today, live_total))
    return History(chosen, points)


# --- The dashboard in one call -----------------------------------------------------------------


# Rendered dashboard fragments live this long at most, even when no fingerprint changed.
FRAGMENT_SECONDS = 600


class Dashboard:
    """Everything the dashboard shows. The session, the freshness of the data and the cache key
    of the page's fragments cost two queries; the rest is computed only when a fragment is not
    in the cache (one query for the rows, and the bar statistics when their cache is cold)."""

    def __init__(
        self,
        *,
        sort: str | None,
        segment: str | None,
        history_range: str | None,
        now: dt.datetime | None = None,
    ):
        self.now = now or timezone.now()
        self.sort = sort
        self.segment = segment or ""
        self.history_range = (
            history_range if history_range in SECTOR_RANGE_KEYS else DEFAULT_SECTOR_RANGE
        )
        self.versions = data_versions(self.now)
        self.session = sessions.session_info(self.now)
        self.refresh = RefreshState(
            latest_quotes_run(),
            self.versions.miners_quoted_at,
            self.now,
            stale_after(self.session.is_open),
        )

    @property
    def fragment_key(self) -> str:
        """The cache key part shared by the page's fragments: data fingerprints, session state
        and the query parameters."""
        return _cache_key(
            "fragments",
            self.versions.page_key,
            str(self.session.state),
            str(self.sort),
            self.segment,
            self.history_range,
        )

    @cached_property
    def rows(self) -> list[InstrumentRow]:
        return instrument_rows(instrument_stats(self.versions))

    @cached_property
    def summary(self) -> SectorSummary:
        return sector_summary(self.rows, self.session.state)

    @cached_property
    def table(self) -> list[InstrumentRow]:
        return miners_table(self.rows, sort=self.sort, segment=self.segment)

    @cached_property
    def benchmarks(self) -> list[InstrumentRow]:
        return sort_rows([r for r in self.rows if r.is_benchmark], "symbol")

    @cached_property
    def segments(self) -> list[SegmentFigures]:
        return segment_comparison(self.rows)

    @cached_property
    def movers(self) -> MoverList:
        return movers(self.rows, self.session.state)

    @cached_property
    def history(self) -> History:
        live_total = None
        if not SECTOR_RANGE_KEYS[self.history_range].intraday:
            live_total = self.summary.total.total
        return sector_history(self.history_range, self.versions, live_total)

    @cached_property
    def segment_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for row in self.rows:
            if not row.is_benchmark:
                counts[row.segment] += 1
        return dict(counts)


def dashboard(
    *, sort: str | None, segment: str | None, history_range: str | None, now=None
) -> Dashboard:
    """The dashboard's data: 2 queries when its fragments are cached, at most 6 cold."""
    return Dashboard(sort=sort, segment=segment, history_range=history_range, now=now)


# --- One miner ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    label: str
    value: Decimal | None
    unit: str
    decimals: int
    as_of: str
    detail: str = ""


@dataclass(frozen=True)
class MinerDetail:
    instrument: Instrument
    quote: Quote | None
    miner: Miner | None
    stats: InstrumentStats
    ytd_percent: Decimal | None
    range_52w: PriceRange | None
    relations: list[Relation]
    trades_like: TradesLike
    facts: list[Fact]
    sources: list[str]
    ev_per_eh: Decimal | None
    history: History

    @property
    def simulated(self) -> bool:
        return self.quote is not None and self.quote.source == "simulated"

    @property
    def shares_outstanding(self) -> int | None:
        if self.instrument.shares_outstanding:
            return self.instrument.shares_outstanding
        return self.quote.shares_outstanding if self.quote else None


def find_instrument(symbol: str) -> Instrument | None:
    """The active instrument with this symbol (any case), with its miner facts and quote."""
    return (
        Instrument.objects.select_related("miner", "quote")
        .filter(symbol__iexact=symbol.strip())
        .first()
    )


def _facts(miner: Miner | None) -> tuple[list[Fact], list[str]]:
    """The AI/HPC facts worth showing: only when the company's facts carry sources."""
    if miner is None or not miner.source_urls:
        return [], []
    facts = []
    if miner.hashrate_eh is not None:
        facts.append(Fact("Hashrate", miner.hashrate_eh, "EH/s", 1, miner.hashrate_as_of))
    if miner.power_mw is not None:
        facts.append(Fact("Power", miner.power_mw, "MW", 0, miner.power_as_of, miner.power_kind))
    if miner.hpc_contracted_mw is not None or miner.hpc_counterparties:
        facts.append(
            Fact(
                "HPC contracted",
                miner.hpc_contracted_mw,
                "MW",
                0,
                miner.hpc_as_of,
                miner.hpc_counterparties,
            )
        )
    return facts, miner.source_urls


def _bars_by_symbol(
    symbols: Sequence[str], start: dt.date
) -> dict[str, list[tuple[dt.date, Decimal, Decimal | None, Decimal | None, Decimal]]]:
    """(date, adj_close, high, low, close) per symbol since `start`: one query."""
    bars = (
        DailyBar.objects.filter(instrument__symbol__in=symbols, date__gte=start)
        .order_by("instrument_id", "date")
        .values_list("instrument__symbol", "date", "adj_close", "high", "low", "close")
    )
    by_symbol: dict[str, list] = defaultdict(list)
    for symbol, day, adj_close, high, low, close in bars:
        by_symbol[symbol].append((day, adj_close, high, low, close))
    return by_symbol


def bars_fingerprint() -> str:
    """One small query: changes when bars or splits are added or a bars refresh finishes."""
    bar = DailyBar._meta.db_table
    split = SplitEvent._meta.db_table
    run = RefreshRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {bar}), (SELECT COUNT(*) FROM {split}),"
            f" (SELECT MAX(id) FROM {split}),"
            f" (SELECT id FROM {run} WHERE kind = %s AND finished_at IS NOT NULL"
            " ORDER BY started_at DESC LIMIT 1)",
            [RefreshRun.Kind.BARS],
        )
        return "-".join(str(part) for part in cursor.fetchone())


@dataclass(frozen=True)
class InstrumentSeries:
    """What one instrument's last ~13 months of bars say, cached per bars fingerprint."""

    stats: InstrumentStats
    closes: list[tuple[dt.date, Decimal]]  # (date, close) over YEAR_LOOKBACK_DAYS


def _compute_instrument_series(symbol: str, today: dt.date) -> InstrumentSeries:
    """One query: the bars of the instrument and of the benchmarks over ~13 months."""
    symbols = list(dict.fromkeys([symbol, *RELATION_BENCHMARKS]))
    bars = _bars_by_symbol(symbols, today - dt.timedelta(days=YEAR_LOOKBACK_DAYS))
    own = bars.get(symbol, [])
    adjusted = {name: [(b[0], b[1]) for b in series] for name, series in bars.items()}
    relations, label = _relations_for(adjusted, symbol)
    stats = InstrumentStats(
        ytd_base=analytics.ytd_base_close(adjusted.get(symbol, []), today.year),
        range_52w=analytics.fifty_two_week_range([(b[0], b[2], b[3], b[4]) for b in own], today),
        last_bar_date=own[-1][0] if own else None,
        relations=relations,
        trades_like=label,
    )
    return InstrumentSeries(stats=stats, closes=[(b[0], b[4]) for b in own])


def instrument_series(symbol: str, today: dt.date, fingerprint: str) -> InstrumentSeries:
    return cached(
        _cache_key("instrument-series", symbol, fingerprint, today.isoformat()),
        lambda: _compute_instrument_series(symbol, today),
        STATS_CACHE_SECONDS,
    )


def miner_detail(instrument: Instrument, *, history_range: str | None, now=None) -> MinerDetail:
    """Stats, facts and the price history of one instrument: one query for the bars fingerprint,
    and, when the cache does not have them, one for the bars of the instrument and the
    benchmarks over ~13 months (plus one for a five-year chart)."""
    today = market_today(now)
    quote = getattr(instrument, "quote", None) if has_quote(instrument) else None
    miner = getattr(instrument, "miner", None) if has_miner(instrument) else None
    fingerprint = bars_fingerprint()
    series = instrument_series(instrument.symbol, today, fingerprint)
    stats = series.stats
    price = quote.price if quote else None
    facts, sources = _facts(miner)
    ev_per_eh = (
        instrument.enterprise_value / miner.hashrate_eh
        if miner is not None and instrument.enterprise_value is not None and miner.hashrate_eh
        else None
    )
    chosen = MINER_RANGE_KEYS.get(history_range or "") or MINER_RANGE_KEYS[DEFAULT_MINER_RANGE]
    return MinerDetail(
        instrument=instrument,
        quote=quote,
        miner=miner,
        stats=stats,
        ytd_percent=stats.ytd_percent(price),
        range_52w=stats.range_with(price),
        relations=[stats.relations[b] for b in RELATION_BENCHMARKS if b in stats.relations],
        trades_like=stats.trades_like,
        facts=facts,
        sources=sources,
        ev_per_eh=ev_per_eh,
        history=price_history(
            instrument,
            chosen.key,
            today=today,
            quote=quote,
            loaded=series.closes,
            fingerprint=fingerprint,
        ),
    )


def has_quote(instrument: Instrument) -> bool:
    try:
        instrument.quote  # noqa: B018 - select_related caches a missing row as an exception
    except Quote.DoesNotExist:
        return False
    return True


def has_miner(instrument: Instrument) -> bool:
    try:
        instrument.miner  # noqa: B018
    except Miner.DoesNotExist:
        return False
    return True


def price_history(
    instrument: Instrument,
    history_range: str,
    *,
    today: dt.date | None = None,
    quote: Quote | None = None,
    loaded: Sequence[tuple[dt.date, Decimal]] | None = None,
    fingerprint: str | None = None,
) -> History:
    """Daily closes of one instrument over a range, ending with today's price when the latest
    quote is newer than the last bar. Uses the `loaded` (date, close) pairs when they reach back
    far enough, else one query (cached under the bars `fingerprint` when given)."""
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

        if fingerprint is None:
            closes = query()
        else:
            key = _cache_key("closes", instrument.symbol, chosen.key, fingerprint, str(start))
            closes = cached(key, query, STATS_CACHE_SECONDS)
    points = [HistoryPoint(day, close) for day, close in closes]
    if chosen.days is None:
        year_start = dt.date(today.year, 1, 1)
        before = [p for p in points if p.at < year_start]
        points = before[-1:] + [p for p in points if p.at >= year_start]
    if quote is not None:
        quote_day = (quote.provider_time or quote.fetched_at).astimezone(NEW_YORK).date()
        if not points or quote_day > points[-1].at:
            points.append(HistoryPoint(quote_day, quote.price))
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


def search_instruments(text: str, limit: int = 20) -> list[Instrument]:
    """Instruments whose symbol or name contains the text, exact symbols first: one query; when
    nothing contains it, the symbols closest to it (a typo: "IRN" finds IREN), one more."""
    text = text.strip()
    if not text:
        return []
    matches = list(
        Instrument.objects.filter(Q(symbol__icontains=text) | Q(name__icontains=text))
        .select_related("miner")
        .order_by("symbol")[: limit * 3]
    )
    upper = text.upper()
    if not matches:
        symbols = list(Instrument.objects.values_list("symbol", flat=True))
        close = difflib.get_close_matches(upper, symbols, n=min(limit, 5), cutoff=0.6)
        found = Instrument.objects.select_related("miner").in_bulk(close, field_name="symbol")
        return [found[symbol] for symbol in close if symbol in found]
    matches.sort(
        key=lambda i: (i.symbol != upper, not i.symbol.startswith(upper), not i.is_active, i.symbol)
    )
    return matches[:limit]


def all_instruments(limit: int = 500) -> list[Instrument]:
    """Active instruments by symbol, for the search page's directory: one query."""
    return list(
        Instrument.objects.filter(is_active=True).select_related("miner").order_by("symbol")[:limit]
    )
