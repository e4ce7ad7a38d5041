"""How fresh the market data is: data versions, the latest refresh run, the market day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from market.models import (
    DailyBar,
    Instrument,
    Miner,
    PriceSnapshot,
    Quote,
    RefreshRun,
    SplitEvent,
)
from market.rules import NEW_YORK
from market.selectors.cache import cache_key


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
        return cache_key("stats", self.bars, self.market_date.isoformat())

    @property
    def daily_history_key(self) -> str:
        return cache_key("daily-history", self.bars, self.profiles, self.market_date.isoformat())

    @property
    def page_key(self) -> str:
        """Changes whenever anything a dashboard fragment shows may have changed."""
        return cache_key(
            "page",
            self.bars,
            self.profiles,
            self.snapshots,
            self.quotes,
            self.facts,
            self.market_date.isoformat(),
        )


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
