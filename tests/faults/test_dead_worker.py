"""A worker killed with SIGKILL in the middle of a refresh: its run stays "running", and the first
tick after the lease (three missed heartbeats) takes it over: a quotes run by refreshing, a
daily run (profiles) by queuing it again for a worker, instead of waiting for the next day."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings

from market import services
from market.models import Quote, RefreshRun
from tests import conftest as shared
from tests.factories import InstrumentFactory
from tests.market.fake_provider import FakeProvider, quote

pytestmark = pytest.mark.django_db(transaction=True)


def _start_hanging_worker(*arguments: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": shared.test_database_url()}
    env.pop("REDIS_URL", None)  # the test's cache is its own (locmem); the worker needs none
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.clocked", "tests.faults.hanging_refresh", *arguments],
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


def test_a_profiles_run_held_by_a_killed_worker_is_queued_again_at_the_next_tick(
    celery_worker_process,
):
    # Issue 22, point 16: profiles are refreshed once a day, so before this nothing claimed a
    # profiles run again until the next day, and the dead one stayed "running" all that time.
    from config.celery import app

    InstrumentFactory(symbol="IREN")  # its profile was never fetched: due
    worker = _start_hanging_worker("profiles")
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(10) == -signal.SIGKILL
    dead = RefreshRun.objects.get(kind=RefreshRun.Kind.PROFILES)
    assert dead.status == RefreshRun.Status.RUNNING

    # The next quotes tick past the lease fails the dead profiles run and queues a profiles
    # refresh (on the queue the test's worker consumes), which the worker runs.
    provider = FakeProvider(quotes={"IREN": quote("IREN", price="40.00")})
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = celery_worker_process.queue
    try:
        tick = services.refresh_quotes(
            provider=provider,
            now=dead.heartbeat_at + services.LEASE + timedelta(seconds=1),
            force=True,
        )
    finally:
        app.conf.task_default_queue = default_queue
    assert tick.status == RefreshRun.Status.OK
    dead.refresh_from_db()
    assert dead.status == RefreshRun.Status.FAILED
    assert dead.error_text == "abandoned: no sign of life for 45 seconds (did the worker stop?)"

    def taken_over():
        return RefreshRun.objects.filter(
            kind=RefreshRun.Kind.PROFILES, pk__gt=dead.pk, status=RefreshRun.Status.OK
        ).first()

    deadline = time.monotonic() + 120
    while taken_over() is None:
        assert time.monotonic() < deadline, celery_worker_process.log()
        time.sleep(0.2)
    assert taken_over().stored_count == 1
    assert "market.refresh_profiles" in celery_worker_process.log()
