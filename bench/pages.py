"""Page bench: server time of the public pages with 500 instruments and a year of bars each.

    uv run python bench/pages.py                      # throwaway SQLite under var/bench-pages/
    uv run python bench/pages.py --database-url postgres://postgres@127.0.0.1:5432/mw_bench
    uv run python bench/pages.py --pages dashboard --requests 400

The data (500 simulated miners plus the BTC-USD, NVDA and SMH benchmarks, a year of daily bars
each, today's quotes and a day of snapshots every five minutes) is built once with the simulated
provider and kept for the next run (--fresh rebuilds it). Each page is then requested through
Django's test client (the whole middleware stack, in process, DEBUG off) after a warm-up, and the
script prints p50 and p95 server time and the queries per request. "cold" rows clear the cache
before every request (the version tokens go with it, so nothing computed before is reused): the
first visitor after new bars arrive pays that once. "304" rows ask again with the page's ETag, as
a browser that kept the page does. The client is signed in, so that every other row is a render
(an anonymous visitor's page is shared across visitors in the cache: the "anonymous, shared"
rows). Budget: dashboard p50 <= 25 ms.

    uv run python bench/pages.py --smoke    # 20 instruments, 3 requests a row, no budget (CI)

A page is one function taking the client, the number of requests and whether this is a smoke
run, and returning its measurements; add one to PAGES (the
portfolio page will be one) and it is measured the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smoke import create_postgres_database, throwaway_dir

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench-pages"
INSTRUMENTS = 500
BAR_DAYS = 365
SNAPSHOT_MINUTES = 5
BUDGET_P50_MS = 25.0
BENCHMARK_SYMBOLS = ["BTC-USD", "NVDA", "SMH"]
SMOKE_INSTRUMENTS = 20
SMOKE_REQUESTS = 3


def setup_django(database_url: str | None, smoke: bool = False) -> None:
    """Django on the bench's database; a smoke run gets a new one (SQLite in a throwaway
    directory, or the PostgreSQL database named, created when missing)."""
    sys.path.insert(0, str(BASE_DIR))
    database_url = database_url or os.environ.get("DATABASE_URL")
    if smoke:
        os.environ["VAR_DIR"] = str(throwaway_dir("pages"))
        if database_url and database_url.startswith("postgres"):
            create_postgres_database(database_url)
    else:
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Production-like: DEBUG off (no query log, no debug context); plain static storage so that
    # no collectstatic manifest is needed.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-pages-not-a-secret")
    os.environ.setdefault("STATIC_MANIFEST", "0")
    os.environ.setdefault("MARKET_DATA_PROVIDER", "simulated")
    import django

    django.setup()


# --- Data --------------------------------------------------------------------------------------


def build_data(count: int, fresh: bool) -> None:
    """Instruments, miners, quotes, a year of bars and a day of snapshots, unless already there."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from market.models import DailyBar, Instrument, Miner, PriceSnapshot, Quote
    from market.providers.simulated import SimulatedProvider

    call_command("migrate", verbosity=0)
    miners = Instrument.objects.filter(miner__isnull=False).count()
    if miners == count and not fresh:
        print(f"data: kept ({miners} miners, {DailyBar.objects.count():,} bars)")
        return
    started = time.perf_counter()
    with transaction.atomic():
        # Watchlists and holdings of an earlier run protect the instruments they name.
        get_user_model().objects.all().delete()
        Instrument.objects.all().delete()
    provider = SimulatedProvider()
    symbols = [f"SIM{i:03d}" for i in range(count)]
    everything = symbols + BENCHMARK_SYMBOLS
    profiles = provider.fetch_profiles(everything).items
    segments = [s for s, _ in Miner.Segment.choices]
    with transaction.atomic():
        instruments = Instrument.objects.bulk_create(
            [
                Instrument(
                    symbol=symbol,
                    name=f"Simulated miner {symbol[3:]}"
                    if symbol.startswith("SIM")
                    else {"BTC-USD": "Bitcoin USD", "NVDA": "NVIDIA", "SMH": "Semis ETF"}[symbol],
                    kind=Instrument.Kind.CRYPTO if symbol == "BTC-USD" else Instrument.Kind.EQUITY,
                    is_benchmark=symbol in BENCHMARK_SYMBOLS,
                    shares_outstanding=profiles[symbol].shares_outstanding,
                    enterprise_value=profiles[symbol].enterprise_value,
                    profile_updated_at=timezone.now(),
                )
                for symbol in everything
            ]
        )
        by_symbol = {i.symbol: i for i in instruments}
        Miner.objects.bulk_create(
            [
                Miner(
                    instrument=by_symbol[symbol],
                    segment=segments[i % len(segments)],
                    hashrate_eh=(i % 40) + 5 if i % 4 != 2 else None,
                    hpc_contracted_mw=(i % 7) * 100 if i % 3 == 0 else None,
                )
                for i, symbol in enumerate(symbols)
            ]
        )
    today = timezone.now().date()
    start = today - dt.timedelta(days=BAR_DAYS)
    bar_rows = []
    for offset in range(0, len(everything), 50):
        batch = provider.fetch_daily_bars(everything[offset : offset + 50], start).items
        for symbol, bars in batch.items():
            bar_rows += [
                DailyBar(
                    instrument=by_symbol[symbol],
                    date=bar.date,
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    adj_close=bar.adj_close,
                    volume=bar.volume,
                    source="simulated",
                )
                for bar in bars.bars
            ]
    with transaction.atomic():
        DailyBar.objects.bulk_create(bar_rows, batch_size=5000)
    now = timezone.now()
    quotes = provider.fetch_quotes(everything).items
    fields = [
        "price",
        "previous_close",
        "market_state",
        "pre_market_price",
        "post_market_price",
        "day_high",
        "day_low",
        "volume",
        "shares_outstanding",
        "market_cap",
        "provider_time",
    ]
    with transaction.atomic():
        Quote.objects.bulk_create(
            [
                Quote(
                    instrument=by_symbol[symbol],
                    fetched_at=now,
                    source="simulated",
                    change=q.price - q.previous_close if q.previous_close else None,
                    change_percent=(q.price / q.previous_close - 1) * 100
                    if q.previous_close
                    else None,
                    **{name: getattr(q, name) for name in fields},
                )
                for symbol, q in quotes.items()
            ]
        )
    snapshots = []
    for minutes in range(0, 16 * 60, SNAPSHOT_MINUTES):
        taken_at = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes)
        for symbol, q in quotes.items():
            drift = 1 + ((hash((symbol, minutes)) % 200) - 100) / 10_000
            snapshots.append(
                PriceSnapshot(
                    instrument=by_symbol[symbol],
                    taken_at=taken_at,
                    price=q.price,
                    market_state=q.market_state,
                    market_cap=q.market_cap * type(q.price)(str(drift)) if q.market_cap else None,
                    source="simulated",
                )
            )
    with transaction.atomic():
        PriceSnapshot.objects.bulk_create(snapshots, batch_size=5000)
    print(
        f"data: built {count} miners + {len(BENCHMARK_SYMBOLS)} benchmarks, "
        f"{len(bar_rows):,} bars, {len(snapshots):,} snapshots "
        f"in {time.perf_counter() - started:.1f} s"
    )


# --- Measuring ---------------------------------------------------------------------------------


@dataclass
class Measurement:
    page: str
    url: str
    p50_ms: float
    p95_ms: float
    queries: int
    requests: int
    budget_ms: float | None = None

    def line(self) -> str:
        verdict = ""
        if self.budget_ms is not None:
            verdict = "ok" if self.p50_ms <= self.budget_ms else "OVER BUDGET"
            verdict = f"  (budget p50 <= {self.budget_ms:.0f} ms: {verdict})"
        return (
            f"{self.page:<26} {self.url:<34} p50 {self.p50_ms:7.2f} ms  p95 {self.p95_ms:7.2f} ms"
            f"  {self.queries} queries  n={self.requests}{verdict}"
        )


def new_quotes() -> None:
    """What a quotes refresh does to the page's fingerprint: a newer fetched_at."""
    from django.utils import timezone

    from market.models import Quote

    Quote.objects.filter(pk=Quote.objects.order_by("pk").values("pk")[:1]).update(
        fetched_at=timezone.now()
    )


def measure(
    client,
    page: str,
    url: str,
    requests: int,
    *,
    headers: dict | None = None,
    cold: bool = False,
    before_each: Callable[[], None] | None = None,
    budget_ms: float | None = None,
    revalidate: bool = False,
) -> Measurement:
    """Time `requests` GETs of `url` (after 10 warm-up requests); `cold` clears the cache first,
    `before_each` runs (untimed) before every timed request; `revalidate` sends the page's ETag
    in If-None-Match, as a browser that kept the page does (each answer must be a 304)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = dict(headers or {})
    expected = 200
    for _ in range(0 if cold else min(10, requests)):
        response = client.get(url, headers=headers, secure=True)
        assert response.status_code == expected, (url, response.status_code)
        if revalidate:
            headers["If-None-Match"], expected = response["ETag"], 304
    timings = []
    for _ in range(requests):
        if cold:
            cache.clear()
        if before_each is not None:
            before_each()
        started = time.perf_counter()
        response = client.get(url, headers=headers, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == expected, (url, response.status_code)
    # Count the queries of one more request made the same way.
    if cold:
        cache.clear()
    if before_each is not None:
        before_each()
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers, secure=True)
    timings.sort()
    return Measurement(
        page=page,
        url=url,
        p50_ms=statistics.median(timings),
        p95_ms=timings[min(len(timings) - 1, int(len(timings) * 0.95))],
        queries=len(queries),
        requests=requests,
        budget_ms=budget_ms,
    )


def bench_user():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-pages", defaults={"email": "bench-pages@example.com"}
    )
    return user


def bench_dashboard(client, requests: int, smoke: bool = False) -> list[Measurement]:
    from django.test import Client

    return [
        measure(client, "dashboard", "/", requests, budget_ms=BUDGET_P50_MS),
        measure(
            client,
            "dashboard rows (htmx poll)",
            "/",
            requests,
            headers={"HX-Request": "true", "HX-Target": "miner-rows"},
        ),
        measure(client, "dashboard sorted+filtered", "/?sort=-ytd&segment=pivot", requests),
        measure(client, "dashboard intraday chart", "/?range=1D", requests),
        measure(client, "sector history json", "/sector/history.json?range=1Y", requests),
        measure(
            client,
            "dashboard, first after a refresh",
            "/",
            max(min(10, requests), requests // 10),
            before_each=new_quotes,
        ),
        measure(
            client, "dashboard cold cache", "/", max(min(5, requests), requests // 20), cold=True
        ),
        measure(client, "dashboard, 304", "/", requests, revalidate=True),
        measure(Client(), "dashboard, anonymous, shared", "/", requests),
    ]


def bench_miner(client, requests: int, smoke: bool = False) -> list[Measurement]:
    from django.test import Client

    # SIM042 with the full data; the middle miner of a smaller set.
    from market.models import Instrument

    symbols = list(
        Instrument.objects.filter(miner__isnull=False).order_by("symbol").values_list("symbol")
    )
    base = f"/miners/{symbols[min(42, len(symbols) // 2)][0]}/"
    return [
        measure(client, "miner page", base, requests, budget_ms=BUDGET_P50_MS),
        measure(client, "miner page 5Y", f"{base}?range=5Y", requests),
        measure(client, "miner bars json", f"{base}bars.json?range=1Y", requests),
        measure(client, "miner page, 304", base, requests, revalidate=True),
        measure(Client(), "miner page, anonymous, shared", base, requests),
    ]


def bench_portfolio_page(client, requests: int, smoke: bool = False) -> list[Measurement]:
    """A signed-in user's portfolio of 10,000 transactions (see bench/portfolio.py)."""
    from portfolio import bench_portfolio

    return bench_portfolio(client, requests, smoke=smoke)


PAGES: dict[str, Callable] = {
    "dashboard": bench_dashboard,
    "miner": bench_miner,
    "portfolio": bench_portfolio_page,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite under var/")
    parser.add_argument("--instruments", type=int, default=INSTRUMENTS)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pages", nargs="*", default=list(PAGES), choices=list(PAGES))
    parser.add_argument("--fresh", action="store_true", help="rebuild the data")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_INSTRUMENTS} instruments, {SMOKE_REQUESTS} requests a row, new data, "
        "no budget",
    )
    args = parser.parse_args()
    if args.smoke:
        args.instruments, args.requests, args.fresh = SMOKE_INSTRUMENTS, SMOKE_REQUESTS, True
    setup_django(args.database_url, smoke=args.smoke)
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    build_data(args.instruments, args.fresh)
    print(
        f"database: {connection.vendor}; cache: {settings.CACHES['default']['BACKEND']}; "
        f"DEBUG={settings.DEBUG}"
    )
    client = Client()
    client.force_login(bench_user())
    results = []
    for page in args.pages:
        for measurement in PAGES[page](client, args.requests, smoke=args.smoke):
            if args.smoke:
                measurement.budget_ms = None
            print(measurement.line(), flush=True)
            results.append(measurement)
    over = [m for m in results if m.budget_ms is not None and m.p50_ms > m.budget_ms]
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
