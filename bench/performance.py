"""Performance page bench: 10,000 transactions over five years, and rebuilding the value history.

    uv run python bench/performance.py          # throwaway SQLite under var/bench-performance/
    uv run python bench/performance.py --database-url postgres://postgres@127.0.0.1:5432/mw_bench
    uv run python bench/performance.py --smoke  # tiny sizes, no budgets (CI)
    uv run python bench/performance.py --profile  # and where a Max view after a refresh spends

One user gets a portfolio of 10,000 entries (buys, sells, deposits) over five years of 20
instruments, two of them in Canadian dollars (converted at CADUSD=X's daily closes), with
BTC-USD, NVDA and SMH as benchmarks; every instrument has a daily bar for each weekday. The
script prints:
- the time to build the whole value history from nothing;
- the performance page's p50/p95 server time and queries per request, warm (the days stored, and
  the page's summary cached on the version tokens), for the Max and 1Y ranges and for all
  portfolios; budget: p50 <= 50 ms; after a quote refresh (the market token replaced before each
  request: the days come from the cache, the returns, risk and charts are computed again, as
  for the first view after every refresh); and with the cache cleared before each request (the
  days read from the database);
- the time to edit the first trade (the ledger write) and then to rebuild the value history it
  dropped (every day, as the first trade touches them all) on the next page view.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
BASE_DIR = Path(__file__).resolve().parent.parent
if "--smoke" not in sys.argv:  # a smoke run gets a throwaway directory (bench/smoke.py)
    os.environ.setdefault("VAR_DIR", str(BASE_DIR / "var" / "bench-performance"))

import pages  # noqa: E402  (Django setup and measuring)

TRANSACTIONS = 10_000
YEARS = 5
INSTRUMENTS = 20
BUDGET_P50_MS = 50.0
EMAIL = "performance-bench@example.com"
BENCHMARKS = ["BTC-USD", "NVDA", "SMH"]


def weekdays(years: float) -> list[dt.date]:
    today = dt.date.today()
    start = today - dt.timedelta(days=int(365.25 * years))
    days = (start + dt.timedelta(days=i) for i in range((today - start).days))
    return [d for d in days if d.weekday() < 5]


def build(transactions: int, years: float, instruments: int, fresh: bool):
    """The market data and the bench user's portfolio, unless already there."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction as db
    from django.utils import timezone

    from market.models import DailyBar, Instrument, Quote
    from portfolios.models import Holding, Portfolio, PortfolioDay, Transaction
    from portfolios.services import recompute_holding

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(
        username="performance-bench", defaults={"email": EMAIL}
    )
    portfolio, _ = Portfolio.objects.get_or_create(owner=user, name="Bench")
    count = Transaction.objects.filter(portfolio=portfolio).exclude(kind="split").count()
    if count == transactions and not fresh:
        print(f"data: kept ({count:,} entries)")
        return user, portfolio
    started = time.perf_counter()
    days = weekdays(years)
    with db.atomic():
        Portfolio.objects.filter(owner=user).delete()
        Instrument.objects.all().delete()
        portfolio = Portfolio.objects.create(owner=user, name="Bench")
        symbols = [f"PERF{i:02d}" for i in range(instruments)]
        made = Instrument.objects.bulk_create(
            [
                Instrument(symbol=s, name=s, currency="CAD" if i < 2 else "USD")
                for i, s in enumerate(symbols)
            ]
            + [Instrument(symbol=s, name=s, is_benchmark=True) for s in BENCHMARKS]
            + [Instrument(symbol="CADUSD=X", name="CAD/USD", kind="fx", currency="USD")]
        )
        bars, quotes = [], []
        for n, instrument in enumerate(made):
            fx = instrument.symbol == "CADUSD=X"
            for i, day in enumerate(days):
                level = (
                    Decimal("0.73") + Decimal(i % 13) / 1000
                    if fx
                    else Decimal(20 + n + (i * (n + 3)) % 37) + Decimal(i % 7) / 4
                )
                bars.append(DailyBar(instrument=instrument, date=day, close=level, adj_close=level))
            quotes.append(
                Quote(instrument=instrument, price=bars[-1].close, fetched_at=timezone.now())
            )
        DailyBar.objects.bulk_create(bars, batch_size=5000)
        Quote.objects.bulk_create(quotes)
        stocks = made[:instruments]
        holdings = Holding.objects.bulk_create(
            [Holding(portfolio=portfolio, instrument=i) for i in stocks]
        )
        rows = []
        for index in range(transactions):
            day = days[index * len(days) // transactions]
            if index % 50 == 0:
                rows.append(
                    Transaction(
                        portfolio=portfolio, kind="deposit", trade_date=day, amount=Decimal(5000)
                    )
                )
                continue
            holding = holdings[index % len(holdings)]
            selling = (index // len(holdings)) % 4 == 3
            rows.append(
                Transaction(
                    holding=holding,
                    portfolio=portfolio,
                    kind="sell" if selling else "buy",
                    trade_date=day,
                    quantity=Decimal(3 if selling else 4),
                    price=Decimal(20 + index % 37),
                    fee=Decimal("1.00"),
                )
            )
        Transaction.objects.bulk_create(rows, batch_size=2000)
    for holding in holdings:
        recompute_holding(holding)
    PortfolioDay.objects.filter(portfolio=portfolio).delete()
    print(
        f"data: {transactions:,} entries over {len(days):,} weekdays ({years} years) and "
        f"{instruments} instruments, built in {time.perf_counter() - started:.1f} s"
    )
    return user, portfolio


def timed(what, action) -> float:
    started = time.perf_counter()
    result = action()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"{what}: {elapsed:,.0f} ms" + (f" ({result:,} days)" if isinstance(result, int) else ""))
    return elapsed


def machine_speed() -> float:
    """ms for a million additions in a Python loop: how busy the machine was (about 40 ms on
    an idle core of a recent CPU); the page figures scale with it."""
    started = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return (time.perf_counter() - started) * 1000


def profile(client, url: str, before_each) -> None:
    """cProfile over 20 views of `url`, `before_each` run (unprofiled) before each one."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    for _ in range(20):
        before_each()
        profiler.enable()
        client.get(url, secure=True)
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite under var/")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--fresh", action="store_true", help="rebuild the data")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no budgets (CI)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print the functions a Max view after a quote refresh spends most time in",
    )
    args = parser.parse_args()
    pages.setup_django(args.database_url, smoke=args.smoke)
    from django.db import connection
    from django.test import Client

    from config import versions
    from portfolios.models import PortfolioDay, Transaction
    from portfolios.performance import history
    from portfolios.services import update_transaction

    sizes = (200, 0.25, 4) if args.smoke else (TRANSACTIONS, YEARS, INSTRUMENTS)
    requests = 5 if args.smoke else args.requests
    user, portfolio = build(*sizes, fresh=args.fresh or args.smoke)
    print(f"database: {connection.vendor}; a million additions: {machine_speed():.0f} ms")

    PortfolioDay.objects.filter(portfolio=portfolio).delete()
    timed("value history, built from nothing", lambda: history.rebuild(portfolio))

    client = Client()
    client.force_login(user)
    url = f"/portfolios/{portfolio.pk}/performance/"
    budget = None if args.smoke else BUDGET_P50_MS
    results = [
        pages.measure(client, "performance, Max", f"{url}?range=max", requests, budget_ms=budget),
        pages.measure(client, "performance, 1Y", f"{url}?range=1y", requests, budget_ms=budget),
        pages.measure(
            client,
            "performance, all portfolios",
            "/portfolios/performance/",
            requests,
            budget_ms=budget,
        ),
        pages.measure(
            client,
            "performance, Max, after a refresh",
            f"{url}?range=max",
            requests,
            before_each=versions.market_changed,
        ),
        pages.measure(
            client, "performance, Max, cache cleared", f"{url}?range=max", requests, cold=True
        ),
    ]
    for measurement in results:
        print(measurement.line(), flush=True)
    if args.profile:
        profile(client, f"{url}?range=max", versions.market_changed)

    first = (
        Transaction.objects.filter(portfolio=portfolio, kind="buy")
        .order_by("trade_date", "id")
        .first()
    )
    timed(
        "edit of the first trade (ledger write)",
        lambda: update_transaction(transaction=first, price=first.price + Decimal("0.01")),
    )
    left = PortfolioDay.objects.filter(portfolio=portfolio).count()
    print(f"days kept after the edit: {left}")
    timed(
        "value history rebuilt after it, and the page (the next page view)",
        lambda: client.get(f"{url}?range=max", secure=True) and None,
    )
    print(f"days stored: {PortfolioDay.objects.filter(portfolio=portfolio).count():,}")
    over = [m for m in results if m.budget_ms is not None and m.p50_ms > m.budget_ms]
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
