"""Alert evaluation bench: how long an evaluation of many alerts takes, how many statements it
runs and the longest of them (which must stay far under DB_STATEMENT_TIMEOUT_MS).

    uv run python bench/alerts.py            # 20,000 alerts, SQLite under var/bench-alerts/
    uv run python bench/alerts.py --database-url postgres://postgres@127.0.0.1:5432/mw_bench
    uv run python bench/alerts.py --smoke    # 500 alerts on new data (CI)

The alerts are on BTC-USD, half "above" and half "below", with thresholds spread around the
price, as one user made 20,307 before alerts were capped. It times portfolios.services
.evaluate_alerts on the stream's instrument three ways: the price moves without crossing any
threshold (what nearly every tick does), then up past every "above" alert, then down past every
"below" one (which also arms every "above" one again). The accounts have no email address.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from smoke import create_postgres_database, throwaway_dir

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench-alerts"
USERS = 100


def setup_django(database_url: str | None, smoke: bool) -> None:
    sys.path.insert(0, str(BASE_DIR))
    bench_dir = throwaway_dir("alerts") if smoke else BENCH_DIR
    bench_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{bench_dir / 'bench.sqlite3'}"
    os.environ.setdefault("VAR_DIR", str(bench_dir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-alerts-only")
    os.environ.pop("REDIS_URL", None)  # the version tokens go to the file cache of bench_dir
    if database_url and database_url.startswith("postgres"):
        create_postgres_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_alerts(count: int):
    """BTC-USD at $44,000 and `count` alerts on it from USERS accounts: "above" $44,000.01 and
    up, "below" $43,999.99 and down, a cent apart."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from market.models import Instrument, Quote
    from portfolios.models import Notification, PriceAlert

    Notification.objects.all().delete()
    PriceAlert.objects.all().delete()
    bitcoin, _ = Instrument.objects.get_or_create(
        symbol="BTC-USD",
        defaults={"name": "Bitcoin USD", "kind": "crypto", "exchange": "CCC", "currency": "USD"},
    )
    now = timezone.now()
    Quote.objects.update_or_create(
        instrument=bitcoin,
        defaults={
            "price": Decimal("44000"),
            "previous_close": Decimal("44000"),
            "market_state": "regular",
            "provider_time": now,
            "fetched_at": now,
            "source": "simulated",
        },
    )
    User = get_user_model()
    owners = [
        User.objects.get_or_create(username=f"bench-alerts-{n}", defaults={"email": ""})[0]
        for n in range(USERS)
    ]
    cent = Decimal("0.01")
    PriceAlert.objects.bulk_create(
        [
            PriceAlert(
                owner=owners[n % USERS],
                instrument=bitcoin,
                condition="above" if n % 2 == 0 else "below",
                threshold=Decimal(44000) + cent * (n // 2 + 1) * (1 if n % 2 == 0 else -1),
            )
            for n in range(count)
        ],
        batch_size=2000,
    )
    return bitcoin


@contextmanager
def timed_statements():
    """The statements run meanwhile: their count and the longest one's seconds."""
    from django.db import connection

    seen = {"count": 0, "longest": 0.0}

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seen["count"] += 1
            seen["longest"] = max(seen["longest"], time.perf_counter() - started)

    with connection.execute_wrapper(wrapper):
        yield seen


def warm_up() -> None:
    """Load what a first firing loads once per process (the URL map, the number formats)."""
    from django.urls import reverse

    from market import formatting

    reverse("market:miner", args=["BTC-USD"])
    formatting.unit_price(1, "USD")


def evaluate(bitcoin, price: str) -> tuple[int, float, dict]:
    from decimal import Decimal

    from market.models import Quote
    from portfolios.services import evaluate_alerts

    Quote.objects.filter(instrument=bitcoin).update(price=Decimal(price))
    with timed_statements() as seen:
        started = time.perf_counter()
        fired = evaluate_alerts(instrument_ids=[bitcoin.pk])
        seconds = time.perf_counter() - started
    return len(fired), seconds, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--smoke", action="store_true", help="500 alerts on new data, no budget")
    args = parser.parse_args()
    if args.smoke:
        args.alerts = 500
    setup_django(args.database_url, args.smoke)
    from django.conf import settings
    from django.db import connection

    print(
        f"Database: {connection.vendor}; {args.alerts:,} alerts on BTC-USD; batches of "
        f"{settings.ALERT_EVALUATION_BATCH}"
    )
    bitcoin = make_alerts(args.alerts)
    warm_up()
    highest = 44000 + (args.alerts // 2 + 2) / 100
    lowest = 44000 - (args.alerts // 2 + 2) / 100
    runs = [
        ("a move that crosses nothing", "44000.005"),
        ("every above alert fires", f"{highest * 1.011:.2f}"),
        ("every below alert fires, every above one re-arms", f"{lowest * 0.989:.2f}"),
    ]
    for what, price in runs:
        fired, seconds, seen = evaluate(bitcoin, price)
        print(
            f"  ${price}, {what}: {fired:,} fired in {seconds * 1000:,.0f} ms; "
            f"{seen['count']} statements, the longest {seen['longest'] * 1000:,.1f} ms"
        )


if __name__ == "__main__":
    main()
