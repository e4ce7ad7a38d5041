"""Shared fixtures. Tests that need the real PostgreSQL or Redis say so with a marker and skip
(with the reason) when DATABASE_URL / REDIS_URL do not point at them."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

pytest_plugins = ["tests.clock"]


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    on_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL=postgres://…"))
        if "redis" in item.keywords and not on_redis:
            item.add_marker(pytest.mark.skip(reason="needs REDIS_URL=redis://…"))


@pytest.fixture(autouse=True)
def _real_market_hours(settings):
    """Tests see the simulated provider keep New York market hours unless they ask otherwise."""
    settings.SIMULATED_ALWAYS_OPEN = False


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    """Each test gets an empty cache of its own (rate limits, version tokens, shared pages)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }
    from django.core.cache import caches

    caches["default"].clear()
    yield


@pytest.fixture(scope="session")
def yfinance_cache_directory(tmp_path_factory):
    """yfinance's persistent caches live in a directory of this test run, set through its public
    setting before any test calls yfinance (never ~/.cache/py-yfinance). Every test that drives
    yfinance asks for it (the market tests all do, tests/market/conftest.py)."""
    from tests.market.yahoo_transport import use_cache_directory

    directory = tmp_path_factory.mktemp("yfinance")
    use_cache_directory(directory)
    return directory


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def other_user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def universe(db):
    """The miners universe and benchmarks from the data file shipped in the repo."""
    from market.universe import load_universe

    load_universe()
    from market.models import Instrument

    return Instrument.objects.all()


def test_database_url() -> str:
    """A DATABASE_URL for the database the running tests use (for worker subprocesses)."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    auth = params.get("USER") or "postgres"
    if params.get("PASSWORD"):
        auth += f":{params['PASSWORD']}"
    return f"postgres://{auth}@{host}:{port}/{params['NAME']}"


class WorkerProcess:
    def __init__(self, queue: str, log_path):
        self.queue = queue
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker (a subprocess) on the configured broker (Redis when REDIS_URL is set,
    the file-system broker otherwise), using the test database, consuming a queue of its own."""
    import subprocess
    import sys
    import uuid

    from config.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = os.environ.copy()
    env["DATABASE_URL"] = test_database_url()
    env.setdefault("MARKET_DATA_PROVIDER", "simulated")
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.clocked",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
        )
    worker = WorkerProcess(queue, log_path)
    try:
        # Wait until it answers a ping through the broker (or fail with its log).
        result = app.send_task("config.ping", args=["ready"], queue=queue)
        try:
            assert result.get(timeout=60) == "ready"
        except Exception as exc:
            raise AssertionError(f"worker did not start: {exc}\n{worker.log()}") from exc
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
