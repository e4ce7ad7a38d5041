"""Load bench: 50 signed-in users browse the dashboard, miner pages and their own portfolio on
gunicorn with PostgreSQL and Redis while a Celery worker and beat refresh quotes every minute;
then the same users hit a bare Django view served the same way (bench/bare.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/minerwatch REDIS_URL=redis://127.0.0.1:6379/0 \\
        uv run python bench/load.py            # 60 s per phase, 50 users
    uv run python bench/load.py --duration 20 --users 20
    uv run python bench/load.py --smoke            # a few seconds, 3 users, no budget (CI)

It builds a fresh database next to DATABASE_URL's (name + "_load", dropped at the end), loads the
universe with five years of simulated bars, and gives every user a portfolio of 15 trades in five
miners and a signed-in session. Users behave as browsers do: they keep the cookies the site sets
(the CSRF cookie) and each page's ETag, and ask again with If-None-Match, so an unchanged page is
a 304 (config/conditional.py); a quotes refresh each minute, and the minute's time bucket in
the ETag, make every page render again. Users do not wait between requests (a
closed loop), so each phase measures the most the server gives on this machine; the load
generator runs on the same cores.
Loopback only; each phase measures --duration seconds after --warmup seconds (15: the users' first
visits and the jobs a new worker queues at start are not the steady state).

Prints requests/s, p50/p95/p99 and errors per page and per phase, the share of 304 answers,
and the refresh runs that happened meanwhile. Budget: no errors, and the site at least half the
bare view's throughput (exit status 1 when it is missed; --smoke checks no budget).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

TRADES_PER_MINER = 3
MINERS_PER_PORTFOLIO = 5


# -- seeding (runs in a subprocess with the stack's environment) ---------------------------------


def seed(users: int) -> dict:
    """Users, each with a portfolio and a signed-in session; the miners' symbols."""
    import random
    from datetime import date, timedelta
    from decimal import Decimal

    import django

    django.setup()
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from market.models import Instrument
    from portfolios.services import create_portfolio, record_transaction

    rng = random.Random(20261125)
    miners = list(Instrument.objects.filter(miner__isnull=False).order_by("symbol"))
    accounts = []
    for n in range(users):
        user = get_user_model().objects.create_user(
            username=f"load{n}", email=f"load{n}@example.com", password=None
        )
        portfolio = create_portfolio(owner=user, name="Main")
        for k, instrument in enumerate(rng.sample(miners, MINERS_PER_PORTFOLIO)):
            first = date(2025, 2, 3) + timedelta(days=7 * k)
            for kind, days, quantity, price in [
                ("buy", 0, 100, "10.00"),
                ("buy", 30, 50, "12.50"),
                ("sell", 60, 40, "15.25"),
            ][:TRADES_PER_MINER]:
                record_transaction(
                    portfolio=portfolio,
                    instrument=instrument,
                    kind=kind,
                    trade_date=first + timedelta(days=days),
                    quantity=Decimal(quantity),
                    price=Decimal(price),
                    fee=Decimal("1.00"),
                )
        # A session as signing in makes it, without paying for a password hash per user.
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        accounts.append(
            {"session": session.session_key, "portfolio": f"/portfolios/{portfolio.pk}/"}
        )
    return {"accounts": accounts, "symbols": [m.symbol for m in miners]}


# -- the load -------------------------------------------------------------------------------------


def server_cpu_seconds(pid: int) -> float:
    """CPU time of a gunicorn master and its workers, including workers already recycled."""
    import psutil

    master = psutil.Process(pid)
    times = master.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for worker in master.children(recursive=True):
        try:
            worker_times = worker.cpu_times()
        except psutil.NoSuchProcess:
            continue  # recycled meanwhile: counted in the master's children times
        total += worker_times.user + worker_times.system
    return total


def redis_cpu_seconds(redis_url: str) -> float:
    """CPU time of the Redis server (all its databases: other users of it count too)."""
    import redis

    info = redis.Redis.from_url(redis_url).info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def run_phase(
    name: str,
    host: str,
    plan: dict,
    *,
    users: int,
    duration: float,
    warmup: float,
    server_pid: int,
    redis_url: str,
):
    """Drive `users` closed-loop users against `host` for `duration` s after `warmup` s."""
    import collections
    import itertools
    import random

    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    accounts = itertools.cycle(plan["accounts"])
    symbols = plan["symbols"]
    statuses = collections.Counter()  # 200 rendered, 304 revalidated
    rendered = collections.Counter()  # the 200s of each page

    class Visitor(FastHttpUser):
        wait_time = constant(0)
        abstract = True

        def on_start(self):
            account = next(accounts)
            # A signed-in browser: the session cookie to start with, then whatever cookies the
            # site sets (the CSRF cookie) are kept and sent back.
            self.client.cookiejar.set_policy(_BehindTls())
            self.client.cookiejar.set_cookie(_cookie("sessionid", account["session"], host))
            self.portfolio = account["portfolio"]
            self.etags: dict[str, str] = {}  # the browser's cache: each page's last ETag

        def page(self, url: str, label: str, must_contain: bytes):
            etag = self.etags.get(url)
            headers = {"If-None-Match": etag} if etag else {}
            with self.client.get(
                url, name=label, headers=headers, allow_redirects=False, catch_response=True
            ) as response:
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    rendered[label] += 1
                if response.status_code == 304 and etag:
                    return  # the browser shows the page it kept
                if response.status_code != 200:
                    response.failure(f"status {response.status_code}")
                elif must_contain not in (response.content or b""):
                    response.failure(f"{must_contain!r} missing from the page")
                elif response.headers.get("ETag"):
                    self.etags[url] = response.headers["ETag"]
                else:
                    self.etags.pop(url, None)

    class SiteVisitor(Visitor):
        abstract = False

        @task(3)
        def dashboard(self):
            self.page("/", "/ (dashboard)", b"IREN")

        @task(3)
        def miner(self):
            symbol = random.choice(symbols)
            self.page(f"/miners/{symbol}/", "/miners/<symbol>/", symbol.encode())

        @task(2)
        def portfolio(self):
            self.page(self.portfolio, "/portfolios/<id>/ (own)", b"Main")

    class BareVisitor(Visitor):
        abstract = False

        @task
        def bare(self):
            self.page("/bench/bare", "/bench/bare", b"ok")

    user_class = SiteVisitor if name == "site" else BareVisitor
    environment = Environment(user_classes=[user_class], host=host, stop_timeout=10)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(warmup)
    environment.stats.reset_all()
    statuses.clear()
    rendered.clear()
    started = time.time()
    server_cpu, own_cpu = server_cpu_seconds(server_pid), own_cpu_seconds()
    redis_cpu = redis_cpu_seconds(redis_url)
    gevent.sleep(duration)
    elapsed = time.time() - started
    server_cpu = server_cpu_seconds(server_pid) - server_cpu
    redis_cpu = redis_cpu_seconds(redis_url) - redis_cpu
    own_cpu = own_cpu_seconds() - own_cpu
    rows = []
    for entry in [*environment.stats.entries.values(), environment.stats.total]:
        rows.append(
            {
                "name": entry.name if entry is not environment.stats.total else "all",
                "requests": entry.num_requests,
                "errors": entry.num_failures,
                "rps": entry.num_requests / elapsed,
                "p50": entry.get_response_time_percentile(0.50),
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
            }
        )
    failures = [
        f"{e.name}: {e.error} ({e.occurrences}x)" for e in environment.stats.errors.values()
    ]
    runner.quit()
    return {
        "statuses": dict(statuses),
        "rendered": dict(rendered),
        "name": name,
        "elapsed": elapsed,
        "rows": rows,
        "failures": failures,
        "at": started,
        "server_cpu": server_cpu,
        "redis_cpu": redis_cpu,
        "generator_cpu": own_cpu,
    }


def not_modified_share(phase: dict) -> float:
    statuses = phase["statuses"]
    return statuses.get(304, 0) / max(sum(statuses.values()), 1)


def _statuses(phase: dict) -> str:
    return ", ".join(f"{n} x {status}" for status, n in sorted(phase["statuses"].items()))


def refresh_runs_between(database_url: str, start: float, end: float) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT status, count(*) FROM market_refreshrun WHERE kind = 'quotes' "
            "AND started_at >= to_timestamp(%s) AND started_at < to_timestamp(%s) GROUP BY status",
            [start, end],
        ).fetchall()
    return dict(rows)


def print_phase(phase: dict, refreshes: dict[str, int]) -> None:
    print(f"\n{phase['name']}: {phase['elapsed']:.0f} s measured")
    header = ("page", "requests", "errors", "req/s", "p50", "p95", "p99")
    print("  {:<28} {:>9} {:>7} {:>8} {:>6} {:>6} {:>6}".format(*header))
    for row in phase["rows"]:
        print(
            f"  {row['name']:<28} {row['requests']:>9} {row['errors']:>7} {row['rps']:>8.1f}"
            f" {row['p50']:>4.0f}ms {row['p95']:>4.0f}ms {row['p99']:>4.0f}ms"
        )
    requests = phase["rows"][-1]["requests"]
    print(
        f"  gunicorn CPU {phase['server_cpu']:.1f} s"
        f" ({1000 * phase['server_cpu'] / max(requests, 1):.2f} ms per request),"
        f" load generator CPU {phase['generator_cpu']:.1f} s, Redis CPU {phase['redis_cpu']:.1f} s,"
        f" in {phase['elapsed']:.0f} s"
        f" on {os.cpu_count()} cores"
    )
    print(f"  304 share: {not_modified_share(phase):.1%} ({_statuses(phase)})")
    if phase["name"] == "site":
        pages = ", ".join(f"{name} {n}" for name, n in sorted(phase["rendered"].items()))
        print(f"  rendered (200): {pages}")
    runs = ", ".join(f"{n} {status}" for status, n in sorted(refreshes.items())) or "none"
    print(f"  quote refreshes during the phase: {runs}")
    for failure in phase["failures"][:10]:
        print(f"  error: {failure}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60, help="seconds measured per phase")
    # The warm-up covers the users' first visits and the jobs a new worker queues when it starts
    # (profiles, missing history); the measured minute still has its quotes refresh.
    parser.add_argument("--warmup", type=float, default=15, help="seconds before measuring")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument(
        "--smoke", action="store_true", help="3 users, a few seconds per phase, no budget (CI)"
    )
    parser.add_argument("--seed-only", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.smoke:
        options.users, options.duration, options.warmup = 3, 5.0, 10.0

    if options.seed_only is not None:
        print(json.dumps(seed(options.seed_only)))
        return 0
    if not options.database_url.startswith("postgres"):
        parser.error("needs PostgreSQL: --database-url or DATABASE_URL=postgres://…")
    if not options.redis_url.startswith("redis"):
        parser.error("needs Redis: --redis-url or REDIS_URL=redis://…")

    # locust patches the standard library for gevent when imported: do it before anything else
    # opens sockets or starts threads.
    import locust  # noqa: F401

    from tests.browser.live_stack import LiveStack, free_port

    parts = urlsplit(options.database_url)
    database_url = parts._replace(path=parts.path.rstrip("/") + "_load").geturl()
    work_dir = Path(tempfile.mkdtemp(prefix="minerwatch-load-"))
    stack = LiveStack(
        database_url=database_url,
        redis_url=options.redis_url,
        work_dir=work_dir,
        web_workers=None,  # gunicorn's own default for this machine, as in production
        celery_concurrency=1,
        extra_env={"CLOSED_MARKET_REFRESH_MINUTES": "1", "LOG_LEVEL": "WARNING"},
    )
    print(f"Starting gunicorn, a Celery worker and beat on {database_url} (logs in {work_dir})")
    try:
        stack.start()
        seeded = subprocess.run(
            [sys.executable, __file__, "--seed-only", str(options.users)],
            cwd=BASE_DIR,
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
        )
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])
        print(
            f"{options.users} users, each with a portfolio of "
            f"{MINERS_PER_PORTFOLIO * TRADES_PER_MINER} trades; "
            f"{len(plan['symbols'])} miners; {os.cpu_count()} cores"
        )

        site = run_phase(
            "site",
            stack.base_url,
            plan,
            users=options.users,
            duration=options.duration,
            warmup=options.warmup,
            server_pid=stack.processes["web"].pid,
            redis_url=options.redis_url,
        )
        site_refreshes = refresh_runs_between(database_url, site["at"], time.time())

        bare_port = free_port()
        stack.serve("bare", "bench.bare", bare_port)
        host = f"http://127.0.0.1:{bare_port}"
        _wait_for(f"{host}/bench/bare")
        bare = run_phase(
            "bare",
            host,
            plan,
            users=options.users,
            duration=options.duration,
            warmup=options.warmup,
            server_pid=stack.processes["bare"].pid,
            redis_url=options.redis_url,
        )
        bare_refreshes = refresh_runs_between(database_url, bare["at"], time.time())
        stack.stop_process("bare")
    except subprocess.CalledProcessError as exc:
        print(exc.stdout, exc.stderr, stack.log_tails(), sep="\n")
        raise
    finally:
        stack.stop()

    print_phase(site, site_refreshes)
    print_phase(bare, bare_refreshes)
    site_total, bare_total = site["rows"][-1], bare["rows"][-1]
    ratio = site_total["rps"] / bare_total["rps"] if bare_total["rps"] else 0.0
    errors = site_total["errors"] + bare_total["errors"]
    print(
        f"\nsite {site_total['rps']:.1f} req/s = {ratio:.0%} of the bare view's "
        f"{bare_total['rps']:.1f} req/s (budget: at least 50%); errors: {errors} (budget: 0); "
        f"304 share of the site's answers: {not_modified_share(site):.1%}"
    )
    if options.smoke:  # no budget, but pages must have been served, all of them right
        served = site_total["requests"] > 0 and bare_total["requests"] > 0
        print("smoke run: no budget" if served and not errors else "SMOKE RUN FAILED")
        return 0 if served and not errors else 1
    within = errors == 0 and ratio >= 0.5
    print("within budget" if within else "OVER BUDGET")
    return 0 if within else 1


class _BehindTls(DefaultCookiePolicy):
    """In production the site is served over HTTPS and its cookies are marked Secure; this bench
    talks plain HTTP on loopback, so it sends them back as a browser on HTTPS would."""

    def return_ok_secure(self, cookie, request) -> bool:
        return True


def _cookie(name: str, value: str, base_url: str):
    from http.cookiejar import Cookie

    domain = urlsplit(base_url).hostname
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=True,
        comment=None,
        comment_url=None,
        rest={},
    )


def _wait_for(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
