"""Quote refresh bench: SQL statements and milliseconds per refresh, HTTP requests per refresh.

    uv run python bench/refresh.py                      # throwaway SQLite under var/bench-refresh/
    uv run python bench/refresh.py --database-url postgres://postgres@127.0.0.1:5432/mw_bench
    uv run python bench/refresh.py --smoke              # 5 and 20 instruments on new data (CI)

For 20, 200 and 2,000 instruments (a tenth of them crypto) and the simulated provider, it runs
market.services.refresh_quotes with force=True: the first refresh inserts every quote, the
following ones update them; each writes one snapshot per instrument. It prints the statements of
each kind of refresh (captured once, apart from the timed runs) and the median time of the
timed ones, with the provider's own share (DEBUG off, as in production; receivers of
quotes_refreshed disconnected). Then it loads the 23-instrument universe and runs the
same service with the yahoo adapter on the recorded Yahoo transport of the tests (yfinance's own
code, no network) and counts the HTTP requests each refresh makes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from smoke import create_postgres_database, throwaway_dir

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench-refresh"
# A Tuesday at 11:00 in New York: every market is in session.
START = datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("America/New_York"))


def setup_django(database_url: str | None, smoke: bool = False) -> None:
    sys.path.insert(0, str(BASE_DIR))
    bench_dir = throwaway_dir("refresh") if smoke else BENCH_DIR
    bench_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{bench_dir / 'bench.sqlite3'}"
    if smoke:
        os.environ["VAR_DIR"] = str(bench_dir)
    os.environ.setdefault("VAR_DIR", str(bench_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # As in production: with DEBUG on, Django also keeps and formats every statement it runs.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-refresh-only")
    if database_url and database_url.startswith("postgres"):
        create_postgres_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Other apps listen to quotes_refreshed to queue their own work (alert evaluation); that is
    # not part of a refresh, and nothing here would consume what they queue.
    from market import signals

    signals.quotes_refreshed.receivers = []
    signals.quotes_refreshed.sender_receivers_cache.clear()


class TimedProvider:
    """Wraps a provider and adds up the time spent inside fetch_quotes."""

    def __init__(self, provider):
        self.provider = provider
        self.name = provider.name
        self.seconds = 0.0

    def fetch_quotes(self, symbols):
        started = time.perf_counter()
        try:
            return self.provider.fetch_quotes(symbols)
        finally:
            self.seconds += time.perf_counter() - started


def reset_market() -> None:
    from market.models import Instrument, RefreshRun

    Instrument.objects.all().delete()  # quotes, snapshots and bars go with them
    RefreshRun.objects.all().delete()


def create_instruments(count: int) -> None:
    from market.models import Instrument

    Instrument.objects.bulk_create(
        [
            Instrument(symbol=f"BC{i:04d}-USD", name=f"Bench coin {i}", kind="crypto")
            if i % 10 == 9
            else Instrument(symbol=f"BE{i:04d}", name=f"Bench equity {i}", kind="equity")
            for i in range(count)
        ]
    )


def refresh_at(moment: datetime, *, capture: bool = False):
    """(run, statements or None, provider seconds, total seconds) of one forced refresh."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from market.providers.simulated import SimulatedProvider
    from market.services import refresh_quotes

    provider = TimedProvider(SimulatedProvider(now=lambda: moment))
    if capture:
        with CaptureQueriesContext(connection) as queries:
            run = refresh_quotes(provider=provider, now=moment, force=True)
        return run, len(queries), provider.seconds, None
    started = time.perf_counter()
    run = refresh_quotes(provider=provider, now=moment, force=True)
    return run, None, provider.seconds, time.perf_counter() - started


def bench_size(count: int, repeat: int, minute: list[int]) -> dict:
    from market.models import PriceSnapshot

    def next_moment() -> datetime:
        minute[0] += 1
        return START + timedelta(minutes=minute[0])

    reset_market()
    create_instruments(count)
    run, inserting, _, _ = refresh_at(next_moment(), capture=True)
    assert run.status == "ok" and run.stored_count == count, run.error_text
    run, updating, _, _ = refresh_at(next_moment(), capture=True)
    assert run.status == "ok" and run.stored_count == count, run.error_text
    totals, providers = [], []
    for _ in range(repeat):
        run, _, provider_seconds, total = refresh_at(next_moment())
        assert run.status == "ok", run.error_text
        totals.append(total * 1000)
        providers.append(provider_seconds * 1000)
    snapshots = PriceSnapshot.objects.filter(taken_at=run.started_at).count()
    return {
        "count": count,
        "inserting": inserting,
        "updating": updating,
        "ms": statistics.median(totals),
        "ms_min": min(totals),
        "provider_ms": statistics.median(providers),
        "snapshots": snapshots,
    }


def yahoo_requests_per_refresh(refreshes: int = 3) -> tuple[list[int], list[str], int]:
    """HTTP requests of each refresh_quotes run with the yahoo adapter on recorded responses."""
    from market.models import Quote
    from market.providers.yahoo import YahooProvider
    from market.services import refresh_quotes
    from market.universe import load_universe
    from tests.market.yahoo_transport import (
        YahooTransport,
        recorded_yfinance,
        session_for,
        universe_quotes,
        use_cache_directory,
    )

    reset_market()
    load_universe()
    counts = []
    use_cache_directory(tempfile.mkdtemp(prefix="yfinance-"))  # empty caches, as a new worker
    with recorded_yfinance():
        transport = YahooTransport()
        transport.quotes.update(universe_quotes())
        provider = YahooProvider(session=session_for(transport))
        for i in range(refreshes):
            before = len(transport.requests)
            run = refresh_quotes(provider=provider, now=START + timedelta(minutes=i), force=True)
            if run.status != "ok":
                raise RuntimeError(f"yahoo refresh {run.status}: {run.error_text}")
            counts.append(len(transport.requests) - before)
        paths = transport.paths()
    return counts, paths, Quote.objects.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a throwaway SQLite file")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200, 2000])
    parser.add_argument("--repeat", type=int, default=9, help="timed refreshes per size")
    parser.add_argument(
        "--smoke", action="store_true", help="sizes 5 and 20, 2 timed refreshes each, new data"
    )
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.repeat = [5, 20], 2
    setup_django(args.database_url, smoke=args.smoke)
    from django.db import connection

    print(f"Quote refresh bench on {connection.vendor} ({connection.settings_dict['NAME']})")
    print("simulated provider, force=True, one snapshot per instrument per refresh")
    print(
        f"{'instruments':>11}  {'statements (insert/update)':>26}  {'ms/refresh (median)':>19}"
        f"  {'min':>7}  {'of which provider':>17}  {'snapshots':>9}"
    )
    minute = [0]
    for count in args.sizes:
        row = bench_size(count, args.repeat, minute)
        print(
            f"{row['count']:>11,}  {row['inserting']:>12} / {row['updating']:<11}  "
            f"{row['ms']:>19.1f}  {row['ms_min']:>7.1f}  {row['provider_ms']:>17.1f}  "
            f"{row['snapshots']:>9,}"
        )

    counts, paths, quotes = yahoo_requests_per_refresh()
    print()
    print(f"yahoo adapter, recorded transport, {quotes} instruments (the universe):")
    print(f"  HTTP requests per refresh: {counts} (the first one includes yfinance's cookie+crumb)")
    first = paths[: counts[0]]
    print(f"  first refresh: {', '.join(first)}")
    reset_market()


if __name__ == "__main__":
    main()
