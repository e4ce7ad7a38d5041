"""Portfolio page bench: server time of a portfolio with 10,000 transactions.

    uv run python bench/pages.py --pages portfolio       # measured with the other pages
    uv run python bench/portfolio.py                     # on its own (same options as pages.py)
    uv run python bench/portfolio.py --database-url postgres://postgres@127.0.0.1:5432/mw_bench
    uv run python bench/portfolio.py --smoke    # 200 transactions, new data, no budget (CI)

On top of the pages bench's data (500 simulated miners with quotes), one user gets a portfolio of
10,000 buys and sells spread over 25 miners (kept for the next run; --fresh rebuilds), each
holding recomputed by the ledger service once. The portfolio page reads stored holdings, so its
time and its query count must not grow with the ledger. Budget: portfolio p50 <= 25 ms, at most
8 queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # noqa: E402  (the pages bench: Django setup, data, measuring)

TRANSACTIONS = 10_000
SMOKE_TRANSACTIONS = 200
HOLDINGS = 25
BENCH_EMAIL = "portfolio-bench@example.com"
BUDGET_P50_MS = 25.0
QUERY_BUDGET = 8


def build_portfolio(transactions: int = TRANSACTIONS, fresh: bool = False):
    """The bench user's portfolio with `transactions` trades, unless already there."""
    from django.contrib.auth import get_user_model
    from django.db import transaction as db

    from market.models import Instrument
    from portfolios.models import Holding, Portfolio, Transaction
    from portfolios.services import recompute_holding

    user, _ = get_user_model().objects.get_or_create(
        username="portfolio-bench", defaults={"email": BENCH_EMAIL}
    )
    portfolio, _ = Portfolio.objects.get_or_create(owner=user, name="Bench")
    count = Transaction.objects.filter(holding__portfolio=portfolio).exclude(kind="split").count()
    if count == transactions and not fresh:
        print(f"portfolio: kept ({count:,} transactions)")
        return user, portfolio
    started = time.perf_counter()
    with db.atomic():
        portfolio.holdings.all().delete()
        instruments = list(
            Instrument.objects.filter(miner__isnull=False, quote__isnull=False).order_by("symbol")[
                :HOLDINGS
            ]
        )
        holdings = Holding.objects.bulk_create(
            [Holding(portfolio=portfolio, instrument=i) for i in instruments]
        )
        first_day = dt.date.today() - dt.timedelta(days=transactions // len(holdings) + 10)
        rows = []
        for index in range(transactions):
            holding = holdings[index % len(holdings)]
            step = index // len(holdings)
            # Three buys of 10 then a sell of 12: the position grows, the sells realize P&L.
            selling = step % 4 == 3
            rows.append(
                Transaction(
                    holding=holding,
                    portfolio=portfolio,
                    kind="sell" if selling else "buy",
                    trade_date=first_day + dt.timedelta(days=step),
                    quantity=Decimal(12 if selling else 10),
                    price=Decimal(10 + step % 17) + Decimal("0.25"),
                    fee=Decimal("1.00"),
                )
            )
        Transaction.objects.bulk_create(rows, batch_size=2000)
    for holding in holdings:
        recompute_holding(holding)
    print(
        f"portfolio: built {transactions:,} transactions over {len(holdings)} holdings "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return user, portfolio


def bench_portfolio(client, requests: int, smoke: bool = False) -> list:
    if smoke:
        user, portfolio = build_portfolio(SMOKE_TRANSACTIONS, fresh=True)
    else:
        user, portfolio = build_portfolio()
    client.force_login(user)
    base = f"/portfolios/{portfolio.pk}/"
    return [
        pages.measure(client, "portfolio", base, requests, budget_ms=BUDGET_P50_MS),
        pages.measure(
            client,
            "portfolio positions (poll)",
            f"{base}positions/",
            requests,
            headers={"HX-Request": "true"},
        ),
        pages.measure(client, "portfolio transactions", f"{base}transactions/", requests),
        pages.measure(client, "portfolio exposure", f"{base}exposure/", requests),
        pages.measure(client, "exposure, all portfolios", "/portfolios/exposure/", requests),
        pages.measure(client, "portfolio, 304", base, requests, revalidate=True),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: SQLite under var/")
    parser.add_argument("--instruments", type=int, default=pages.INSTRUMENTS)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--fresh", action="store_true", help="rebuild the portfolio")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_TRANSACTIONS} transactions on new data, a few requests, no budget",
    )
    args = parser.parse_args()
    if args.smoke:
        args.instruments, args.requests = pages.SMOKE_INSTRUMENTS, pages.SMOKE_REQUESTS
    pages.setup_django(args.database_url, smoke=args.smoke)
    from django.db import connection
    from django.test import Client

    pages.build_data(args.instruments, args.smoke)
    if not args.smoke:
        build_portfolio(fresh=args.fresh)
    print(f"database: {connection.vendor}")
    results = bench_portfolio(Client(), args.requests, smoke=args.smoke)
    for measurement in results:
        if args.smoke:
            measurement.budget_ms = None
        print(measurement.line(), flush=True)
    page = results[0]
    if args.smoke:
        print(f"portfolio page: {page.queries} queries (smoke run: no budget)")
        return 0
    print(f"portfolio page: {page.queries} queries (budget <= {QUERY_BUDGET})")
    over = page.p50_ms > BUDGET_P50_MS or page.queries > QUERY_BUDGET
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
