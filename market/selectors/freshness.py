"""How fresh the market data is: the version tokens, the latest refresh run, the market day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from config import versions
from market.models import Quote, RefreshRun
from market.rules import NEW_YORK


@dataclass(frozen=True)
class Tokens:
    """The market and bars version tokens as one request read them (config/versions.py), and
    the market day: what every cached computation and dashboard fragment is keyed on. An
    empty token means the cache did not answer; nothing is cached under it."""

    market: str
    bars: str
    market_date: dt.date


def current_tokens(now: dt.datetime | None = None) -> Tokens:
    """Both tokens in one multi-key cache read, no query."""
    market, bars = versions.current([versions.MARKET, versions.BARS])
    return Tokens(market=market, bars=bars, market_date=market_today(now))


def market_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(NEW_YORK).date()


def miners_quoted_at() -> dt.datetime | None:
    """When the newest quote of an active miner was fetched: one aggregate query."""
    return Quote.objects.filter(
        instrument__miner__isnull=False,
        instrument__is_active=True,
        instrument__is_benchmark=False,
    ).aggregate(at=Max("fetched_at"))["at"]


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
            "provider",
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
