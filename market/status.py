"""The /status/ page: recent refresh runs and how old each instrument's quote is."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from market.models import Feed, Instrument, RefreshRun
from market.outage import OutageNotice, outage_notice
from market.streaming.state import stream_state

RECENT_RUNS = 50


@dataclass(frozen=True)
class QuoteAge:
    instrument: Instrument
    fetched_at: datetime | None
    age: timedelta | None
    is_stale: bool


@dataclass(frozen=True)
class PipelineStatus:
    now: datetime
    provider: str
    runs: list[RefreshRun]
    last_ok_quotes_run: RefreshRun | None
    last_error_run: RefreshRun | None
    quote_ages: list[QuoteAge]
    stale_after: timedelta
    # Symbols refreshes stopped asking for after the provider kept not knowing them
    # (delisted); each keeps its last quote and bars (`last_bar`: date of its latest bar).
    delisted: list[Instrument]
    stream: dict | None = None  # the streamer's last recorded state (market.streaming.state)
    streamed_count: int = 0  # quotes the live stream wrote last
    # Median age of the streamed quotes' prices (now minus the tick's own time), in seconds.
    streamed_age_p50: float | None = None
    outage: OutageNotice | None = None

    @property
    def stale_count(self) -> int:
        return sum(1 for row in self.quote_ages if row.is_stale)

    @property
    def stale_after_minutes(self) -> int:
        return int(self.stale_after.total_seconds() // 60)

    @property
    def latest_quotes_run(self) -> RefreshRun | None:
        return next((run for run in self.runs if run.kind == RefreshRun.Kind.QUOTES), None)


def stale_after() -> timedelta:
    """A quote older than this means refreshes are not happening: even a closed market's quotes
    are refreshed every CLOSED_MARKET_REFRESH_MINUTES, so twice that is overdue."""
    return timedelta(minutes=2 * settings.CLOSED_MARKET_REFRESH_MINUTES)


def pipeline_status(*, now: datetime | None = None) -> PipelineStatus:
    """Everything the status page shows, in five queries whatever the number of instruments."""
    now = now or timezone.now()
    runs = list(RefreshRun.objects.order_by("-started_at")[:RECENT_RUNS])
    last_ok_quotes_run = (
        RefreshRun.objects.filter(kind=RefreshRun.Kind.QUOTES, status=RefreshRun.Status.OK)
        .order_by("-started_at")
        .first()
    )
    last_error_run = (
        RefreshRun.objects.filter(
            Q(status__in=[RefreshRun.Status.FAILED, RefreshRun.Status.PARTIAL])
            | Q(error_count__gt=0)
            | ~Q(error_text="")
        )
        .order_by("-started_at")
        .first()
    )
    limit = stale_after()
    quote_ages = []
    streamed_ages = []
    instruments = (
        Instrument.objects.filter(is_active=True).select_related("quote").order_by("symbol")
    )
    for instrument in instruments:
        quote = getattr(instrument, "quote", None)
        fetched_at = quote.fetched_at if quote is not None else None
        if quote is not None and quote.feed == Feed.STREAM and quote.provider_time:
            streamed_ages.append((now - quote.provider_time).total_seconds())
        age = now - fetched_at if fetched_at is not None else None
        quote_ages.append(
            QuoteAge(
                instrument=instrument,
                fetched_at=fetched_at,
                age=age,
                is_stale=age is None or age > limit,
            )
        )
    # Oldest first: what needs attention is at the top.
    quote_ages.sort(
        key=lambda row: (row.age is not None, -(row.age or timedelta()).total_seconds())
    )
    delisted = list(
        Instrument.objects.filter(is_active=False, deactivated_at__isnull=False)
        .select_related("quote")
        .annotate(last_bar=Max("bars__date"))
        .order_by("-deactivated_at", "symbol")
    )
    return PipelineStatus(
        now=now,
        provider=settings.MARKET_DATA_PROVIDER,
        runs=runs,
        last_ok_quotes_run=last_ok_quotes_run,
        last_error_run=last_error_run,
        quote_ages=quote_ages,
        stale_after=limit,
        delisted=delisted,
        stream=stream_state(),
        streamed_count=len(streamed_ages),
        streamed_age_p50=statistics.median(streamed_ages) if streamed_ages else None,
        outage=outage_notice(
            # The latest quotes run that called the provider (a skipped one did not).
            next((run for run in runs if _called_provider(run)), None),
            last_ok_quotes_run.finished_at if last_ok_quotes_run else None,
        ),
    )


def _called_provider(run: RefreshRun) -> bool:
    return run.kind == RefreshRun.Kind.QUOTES and run.status != RefreshRun.Status.SKIPPED


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def status(request: HttpRequest) -> HttpResponse:
    template_name = "market/status.html"
    if getattr(request, "htmx", False):
        template_name += "#panel"
    return render(request, template_name, {"status": pipeline_status()})
