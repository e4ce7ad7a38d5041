"""CSV bench: stream a 1,000,000-row transactions export and import 10,000 rows.

    uv run python bench/export.py                      # throwaway SQLite under var/bench-export/
    uv run python bench/export.py --database-url postgres://postgres@127.0.0.1:5432/mw_bench
    uv run python bench/export.py --smoke              # tiny sizes on a new database (CI)

The rows are bulk-inserted once (kept for the next run; --fresh rebuilds them). The export is
streamed through the real view and middleware (Django's test client, signed in as the owner) in a
subprocess of its own, so that its peak RSS (ru_maxrss) is the streaming process's alone: the
budget is 100 MB however many rows. The import times the preview (read, check, dry run through
the ledger service) and the confirmed write of 10,000 trades into an empty portfolio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import smoke

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench-export"
RSS_BUDGET_MB = 100
SMOKE_ROWS = 2_000
SMOKE_IMPORT_ROWS = 30
SYMBOLS = ["BXA", "BXB", "BXC", "BXD", "BXE"]
OWNER_EMAIL = "bench-export@example.com"
BATCH = 20_000
EXPORT_PORTFOLIO = "Export bench"


def setup_django(database_url: str) -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# -- data -----------------------------------------------------------------------------------------


def ensure_rows(rows: int, fresh: bool) -> int:
    """The export portfolio with `rows` buys spread over five instruments; its id."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from market.models import Instrument
    from portfolios.models import Holding, Portfolio, Transaction

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-export", defaults={"email": OWNER_EMAIL}
    )
    portfolio, _ = Portfolio.objects.get_or_create(owner=user, name=EXPORT_PORTFOLIO)
    have = Transaction.objects.filter(holding__portfolio=portfolio).count()
    if have == rows and not fresh:
        print(f"  reusing {have:,} transactions already in the bench database")
        return portfolio.pk
    Transaction.objects.filter(holding__portfolio=portfolio).delete()
    instruments = [
        Instrument.objects.get_or_create(symbol=s, defaults={"name": f"{s} bench"})[0]
        for s in SYMBOLS
    ]
    holdings = [
        Holding.objects.get_or_create(portfolio=portfolio, instrument=i)[0] for i in instruments
    ]
    # Raw rows for speed (a million ORM objects take minutes). The column list is the model's own,
    # less what the database fills itself, so a column added to the model cannot be missed again:
    # a hand-written list once lacked portfolio_id, which the services set on every trade.
    columns = [
        field.column
        for field in Transaction._meta.concrete_fields
        if not field.primary_key and field.column != "split_ratio"
    ]
    # Columns the rows below do not name take the model's default; one without a default still
    # fails by name.
    defaults = {
        field.column: field.get_default()
        for field in Transaction._meta.concrete_fields
        if field.has_default()
    }
    sql = (
        f"INSERT INTO {Transaction._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    first_day = dt.date(2000, 1, 3)

    def row(n: int) -> dict:
        return {
            "holding_id": holdings[n % len(holdings)].pk,
            "portfolio_id": portfolio.pk,
            "kind": Transaction.Kind.BUY.value,
            "trade_date": first_day + dt.timedelta(days=n // 200),
            "quantity": Decimal(1 + n % 97),
            "price": Decimal(f"{10 + n % 5000}.{n % 100000:05d}"),
            "fee": Decimal(n % 7) / 4,
            "note": f"lot {n}" if n % 10 else "=rebalance",
            "created_at": now,
        }

    with transaction.atomic(), connection.cursor() as cursor:
        for offset in range(0, rows, BATCH):
            batch = [row(n) for n in range(offset, min(offset + BATCH, rows))]
            cursor.executemany(
                sql,
                [[values[c] if c in values else defaults[c] for c in columns] for values in batch],
            )
    print(f"  inserted {rows:,} transactions in {time.perf_counter() - started:.1f} s")
    return portfolio.pk


# -- export (child process) -----------------------------------------------------------------------


def stream_export(portfolio_id: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    at_start = peak_rss_mb()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-export"))
    url = f"/portfolios/{portfolio_id}/transactions.csv"
    # Warm up (URLconf, middleware, first queries) on one chunk, then measure a whole export.
    warm_up = client.get(url)
    next(iter(warm_up.streaming_content))
    warm_up.close()
    baseline = peak_rss_mb()
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    size = lines = chunks = 0
    first_chunk_at = None
    for chunk in response.streaming_content:
        if first_chunk_at is None:
            first_chunk_at = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\r\n")
        chunks += 1
    response.close()
    elapsed = time.perf_counter() - started
    rows = lines - 1  # the header
    return {
        "rows": rows,
        "bytes": size,
        "chunks": chunks,
        "seconds": elapsed,
        "first_chunk_seconds": first_chunk_at,
        "rows_per_second": rows / elapsed,
        "rss_at_start_mb": at_start,
        "rss_after_warm_up_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- import ---------------------------------------------------------------------------------------


def import_rows(count: int) -> dict:
    from django.contrib.auth import get_user_model

    from portfolios.csv_import import confirm_import, preview_import
    from portfolios.models import Portfolio

    owner = get_user_model().objects.get(username="bench-export")
    Portfolio.objects.filter(owner=owner, name="Import bench").delete()
    portfolio = Portfolio.objects.create(owner=owner, name="Import bench")
    lines = ["Date,Code,Currency,Price,Quantity,Action,Fee,Note"]
    day = dt.date(2015, 1, 5)
    for n in range(count):
        symbol = SYMBOLS[(n // 3) % len(SYMBOLS)]
        # Two buys then a sell of half of one of them: a ledger to check, not only rows to store.
        kind, quantity = ("sell", 5) if n % 3 == 2 else ("buy", 10)
        lines.append(
            f"{(day + dt.timedelta(days=n // 5)):%d.%m.%Y},{symbol},USD,{20 + n % 13}.25,"
            f"{quantity},{kind},0.5,row {n}"
        )
    content = ("\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    preview = preview_import(portfolio=portfolio, content=content)
    previewed = time.perf_counter() - started
    assert not preview.problems, preview.problems[:3]
    started = time.perf_counter()
    result = confirm_import(portfolio=portfolio, content=content, sha256=preview.parsed.sha256)
    confirmed = time.perf_counter() - started
    assert result.written == count, result
    return {
        "rows": count,
        "bytes": len(content),
        "preview_seconds": previewed,
        "confirm_seconds": confirmed,
    }


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a throwaway database (default: SQLite under var/bench-export/)",
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the rows")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_ROWS:,} rows and {SMOKE_IMPORT_ROWS} imported on a new database, no budget",
    )
    parser.add_argument("--child-export", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.import_rows, args.fresh = SMOKE_ROWS, SMOKE_IMPORT_ROWS, True
        if args.database_url is None:
            bench_dir = smoke.throwaway_dir("export")
            os.environ["VAR_DIR"] = str(bench_dir)
            args.database_url = f"sqlite:///{bench_dir / 'bench.sqlite3'}"
        elif args.database_url.startswith("postgres"):
            smoke.create_postgres_database(args.database_url)
    elif args.database_url is None:
        args.database_url = f"sqlite:///{BENCH_DIR / 'bench.sqlite3'}"
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    setup_django(args.database_url)

    if args.child_export:
        print(json.dumps(stream_export(args.child_export)))
        return

    from django.db import connection

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    portfolio_id = ensure_rows(args.rows, args.fresh)
    connection.close()

    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--database-url",
            args.database_url,
            "--child-export",
            str(portfolio_id),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode:
        sys.exit(f"export process failed:\n{child.stderr}")
    export = json.loads(child.stdout.strip().splitlines()[-1])
    if export["rows"] != args.rows:
        sys.exit(f"the export wrote {export['rows']:,} rows, not {args.rows:,}")
    if args.smoke:
        verdict = "smoke run: no budget"
    else:
        within = "within" if export["peak_rss_mb"] <= RSS_BUDGET_MB else "OVER"
        verdict = f"{within} the {RSS_BUDGET_MB} MB budget"
    print(
        f"Export: {export['rows']:,} rows, {export['bytes'] / 1e6:.1f} MB of CSV in "
        f"{export['seconds']:.1f} s = {export['rows_per_second']:,.0f} rows/s "
        f"(first bytes after {export['first_chunk_seconds'] * 1000:.0f} ms)"
    )
    print(
        f"        peak RSS {export['peak_rss_mb']:.1f} MB ({verdict}; "
        f"{export['rss_at_start_mb']:.1f} MB once Django was loaded, "
        f"{export['rss_after_warm_up_mb']:.1f} MB after a one-chunk warm-up)"
    )
    imported = import_rows(args.import_rows)
    print(
        f"Import: {imported['rows']:,} rows ({imported['bytes'] / 1e3:.0f} KB): preview "
        f"{imported['preview_seconds']:.2f} s, confirm {imported['confirm_seconds']:.2f} s, "
        f"total {imported['preview_seconds'] + imported['confirm_seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
