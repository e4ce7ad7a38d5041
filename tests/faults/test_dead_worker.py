"""A worker killed with SIGKILL in the middle of a quotes refresh: its run stays "running", and
the first tick after the lease (three missed heartbeats) takes it over and refreshes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings

from market import services
from market.models import Quote, RefreshRun
from tests import conftest as shared
from tests.factories import InstrumentFactory
from tests.market.fake_provider import FakeProvider, quote

pytestmark = pytest.mark.django_db(transaction=True)


def _start_hanging_worker() -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": shared.test_database_url()}
    env.pop("REDIS_URL", None)  # the test's cache is its own (locmem); the worker needs none
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.clocked", "tests.faults.hanging_refresh"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready, _, _ = select.select([worker.stdout], [], [], 120)
    line = worker.stdout.readline() if ready else ""
    if line.strip() != "fetching":
        worker.kill()
        raise AssertionError(f"the worker did not start its refresh: {line}{worker.stdout.read()}")
    return worker


def test_a_run_held_by_a_killed_worker_is_taken_over_after_the_lease():
    InstrumentFactory(symbol="AAA")
    worker = _start_hanging_worker()
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(10) == -signal.SIGKILL

    dead = RefreshRun.objects.get(kind=RefreshRun.Kind.QUOTES)
    assert dead.status == RefreshRun.Status.RUNNING
    last_sign_of_life = dead.heartbeat_at
    provider = FakeProvider(quotes={"AAA": quote("AAA", price="12.34")})

    # A tick within the lease: the holder may still be alive, so it is left alone.
    tick = services.refresh_quotes(
        provider=provider, now=last_sign_of_life + timedelta(seconds=30), force=True
    )
    assert tick.status == RefreshRun.Status.SKIPPED
    assert provider.calls == []

    # The next tick, past the lease: the dead run is failed and this one refreshes.
    tick = services.refresh_quotes(
        provider=provider, now=last_sign_of_life + services.LEASE + timedelta(seconds=1), force=True
    )
    assert tick.status == RefreshRun.Status.OK
    assert str(Quote.objects.get(instrument__symbol="AAA").price) == "12.34000000"
    dead.refresh_from_db()
    assert dead.status == RefreshRun.Status.FAILED
    assert dead.error_text == "abandoned: no sign of life for 45 seconds (did the worker stop?)"
