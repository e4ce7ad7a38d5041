"""The market tasks: a real worker runs them; retries honour Retry-After and back off."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from types import SimpleNamespace

import pytest
from celery.signals import task_retry
from django.apps import apps
from django.conf import settings
from django.db import connection
from kombu import Queue

from config.celery import app
from market import tasks
from market.models import DailyBar, Instrument, PriceSnapshot, Quote, RefreshRun
from market.providers import ProviderError, ProviderUnavailable, RateLimited
from market.providers.simulated import SimulatedProvider
from market.services import bars, profiles, quotes
from tests.factories import InstrumentFactory
from tests.market.fake_provider import FakeProvider, quote
from tests.market.xnys import bar_dates_of_a_backfill

# -- a real worker -------------------------------------------------------------------------------


def _refresh_twice_through(worker) -> None:
    first = app.send_task("market.refresh_quotes", kwargs={"force": True}, queue=worker.queue)
    first_id = first.get(timeout=60)
    assert Quote.objects.count() == 23
    assert PriceSnapshot.objects.count() == 23

    second = app.send_task("market.refresh_quotes", kwargs={"force": True}, queue=worker.queue)
    second_id = second.get(timeout=60)

    runs = RefreshRun.objects.filter(pk__in=[first_id, second_id])
    assert [run.status for run in runs] == ["ok", "ok"]
    assert Quote.objects.count() == 23  # upserted, not duplicated
    assert PriceSnapshot.objects.count() == 46  # one per instrument per run
    per_run = PriceSnapshot.objects.values_list("taken_at", flat=True).distinct()
    assert sorted(per_run) == sorted(run.started_at for run in runs)
    assert set(Quote.objects.values_list("source", flat=True)) == {"simulated"}


def test_a_real_worker_runs_the_refresh_task(celery_worker_process, universe):
    _refresh_twice_through(celery_worker_process)
    assert "market.refresh_quotes" in celery_worker_process.log()


@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_on_redis_and_postgresql_runs_the_refresh_task(
    celery_worker_process, universe
):
    assert connection.vendor == "postgresql"
    assert app.conf.broker_url == os.environ["REDIS_URL"]
    _refresh_twice_through(celery_worker_process)


def test_a_real_worker_backfills_missing_history(celery_worker_process):
    InstrumentFactory(symbol="IREN")
    result = app.send_task(
        "market.backfill_missing_bars", kwargs={"years": 1}, queue=celery_worker_process.queue
    )
    run = RefreshRun.objects.get(pk=result.get(timeout=60))
    assert run.status == "ok"
    stored = DailyBar.objects.filter(instrument__symbol="IREN").order_by("date")
    # The worker reads its own clock: the bars are the sessions of the year before its run.
    expected = bar_dates_of_a_backfill(run.started_at, years=1)
    assert list(stored.values_list("date", flat=True)) == expected
    assert len(expected) >= 248


# -- retries -------------------------------------------------------------------------------------


@pytest.fixture
def provider(monkeypatch):
    """The provider every service call in the task gets (instead of settings')."""
    holder = SimpleNamespace(provider=None)
    for module in (quotes, profiles, bars):  # where the services look the provider up
        monkeypatch.setattr(module, "get_provider", lambda name=None: holder.provider)
    return holder


@pytest.fixture
def retries():
    """The countdown of each retry a task asked for."""
    seen: list[float] = []

    def on_retry(sender=None, reason=None, **kwargs):
        seen.append(reason.when)

    task_retry.connect(on_retry)
    yield seen
    task_retry.disconnect(on_retry)


class FlakyProvider(FakeProvider):
    """Fails the first `failures` quote calls with `error`, then answers."""

    def __init__(self, error: BaseException, failures: int, **kwargs):
        super().__init__(**kwargs)
        self.error = error
        self.failures = failures

    def fetch_quotes(self, symbols):
        if self.failures > 0:
            self.failures -= 1
            self.calls.append(("quotes", list(symbols)))
            raise self.error
        return super().fetch_quotes(symbols)


@pytest.mark.django_db
def test_rate_limited_with_retry_after_retries_after_that_long(provider, retries):
    InstrumentFactory(symbol="AAA")
    provider.provider = FlakyProvider(
        RateLimited("429", retry_after=42.5), failures=1, quotes={"AAA": quote("AAA")}
    )

    result = tasks.refresh_quotes.apply(kwargs={"force": True})

    assert retries == [43]
    assert result.state == "SUCCESS"
    runs = list(RefreshRun.objects.order_by("pk").values_list("status", "error_text"))
    assert runs[0][0] == "failed" and "429" in runs[0][1]
    # An eager retry comes at once; the service still refuses to call before Retry-After.
    assert runs[1][0] == "skipped" and "is not called again before" in runs[1][1]
    assert len(provider.provider.calls) == 1


@pytest.mark.django_db
def test_provider_unavailable_retries_with_exponential_backoff_then_gives_up(
    provider, retries, caplog
):
    InstrumentFactory(symbol="AAA")
    provider.provider = FlakyProvider(ProviderUnavailable("502 Bad Gateway"), failures=10)

    with caplog.at_level(logging.INFO):
        result = tasks.refresh_quotes.apply(kwargs={"force": True})

    # The last attempt ends the task quietly: each failed run is one log line, no traceback.
    assert result.state == "SUCCESS" and result.result is None
    failed_lines = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
    assert failed_lines == ["quotes refresh failed: 502 Bad Gateway; retrying at the next tick"] * 4
    assert not [r for r in caplog.records if r.exc_info]
    assert len(retries) == tasks.refresh_quotes.max_retries == 3
    # Full jitter: each countdown is drawn from [0, 2 * 2**n], capped at retry_backoff_max.
    assert all(0 <= when <= min(2 * 2**n, 30) for n, when in enumerate(retries))
    assert len(provider.provider.calls) == 4
    assert set(RefreshRun.objects.values_list("status", flat=True)) == {"failed"}
    assert not Quote.objects.exists()


@pytest.mark.django_db
def test_an_unresolvable_host_is_not_retried_and_backs_off(provider, retries, caplog):
    InstrumentFactory(symbol="AAA")
    error = ProviderUnavailable(
        "Yahoo did not answer: DNSError: Failed to perform, curl: (6) Could not resolve host:"
        " query1.finance.yahoo.com (Domain name not found). See https://curl.se/libcurl/c/"
        "libcurl-errors.html first for more details."
    )
    provider.provider = FlakyProvider(error, failures=10)

    with caplog.at_level(logging.INFO):
        first = tasks.refresh_quotes.apply(kwargs={"force": True})
        second = tasks.refresh_quotes.apply(kwargs={"force": True})

    assert retries == []
    assert first.result is None and len(provider.provider.calls) == 1
    # The second run is skipped: the host is left alone for a minute, then 2, 4, … 30.
    runs = list(RefreshRun.objects.order_by("pk").values_list("status", "error_text"))
    assert [status for status, _ in runs] == ["failed", "skipped"]
    assert "is not called again before" in runs[1][1]
    assert second.state == "SUCCESS"
    messages = [r.getMessage() for r in caplog.records if r.name == "market.outage"]
    assert messages[0].startswith(
        "quotes refresh failed: fake could not be reached: the host query1.finance.yahoo.com"
        " was not found (is this machine offline?); next try after "
    )
    assert "MARKET_DATA_PROVIDER=simulated make run" in messages[1]
    assert len(messages) == 2


@pytest.mark.django_db
def test_a_rate_limit_without_retry_after_backs_off_and_then_succeeds(provider, retries):
    InstrumentFactory(symbol="AAA")
    provider.provider = FlakyProvider(RateLimited("429"), failures=2, quotes={"AAA": quote("AAA")})

    result = tasks.refresh_quotes.apply(kwargs={"force": True})

    assert result.state == "SUCCESS"
    assert len(retries) == 2
    assert RefreshRun.objects.get(pk=result.result).status == "ok"
    assert Quote.objects.get().price == quote("AAA").price


@pytest.mark.django_db
def test_errors_that_retrying_cannot_fix_are_not_retried(provider, retries):
    InstrumentFactory(symbol="AAA")
    provider.provider = FakeProvider(raises=ProviderError("symbol list refused"))

    result = tasks.refresh_quotes.apply(kwargs={"force": True})

    assert result.state == "FAILURE"
    assert retries == []


@pytest.mark.django_db
def test_the_daily_tasks_retry_rate_limits_too(provider, retries):
    InstrumentFactory(symbol="AAA")
    provider.provider = FakeProvider(raises=RateLimited("429", retry_after=600))
    result = tasks.update_bars.apply()
    assert retries == [600]
    assert result.state == "SUCCESS"
    statuses = list(RefreshRun.objects.filter(kind="bars").order_by("pk").values_list("status"))
    assert statuses == [("failed",), ("skipped",)]  # the eager retry came before Retry-After


def test_tasks_are_late_acknowledged_time_limited_and_retry_provider_errors():
    for task in (
        tasks.refresh_quotes,
        tasks.refresh_profiles,
        tasks.update_bars,
        tasks.backfill_bars,
        tasks.backfill_missing_bars,
    ):
        assert task.acks_late is True
        assert task.time_limit and task.soft_time_limit < task.time_limit
        assert set(task.autoretry_for) == {ProviderUnavailable, RateLimited}
        assert task.retry_backoff and task.retry_jitter
        assert task.max_retries
    assert tasks.refresh_quotes.time_limit <= 120  # a minute's refresh never runs for long


def test_the_beat_schedule_names_registered_tasks():
    # A worker imports every app's tasks module at start; this test may run before anything did.
    for app_config in apps.get_app_configs():
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{app_config.name}.tasks")
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["market-refresh-quotes"]["schedule"] == 60.0
    assert schedule["market-refresh-quotes"]["options"]["expires"] < 60
    for entry in schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


# -- a worker's first minutes --------------------------------------------------------------------


@pytest.fixture
def eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_a_worker_on_the_default_queue_starts_with_quotes_profiles_and_history(eager, provider):
    InstrumentFactory(symbol="IREN", shares_outstanding=None)
    InstrumentFactory(symbol="WULF", shares_outstanding=None)
    provider.provider = SimulatedProvider()
    consumer = SimpleNamespace(task_consumer=SimpleNamespace(queues=[Queue("celery")]))

    tasks._refresh_when_a_worker_starts(sender=consumer)

    assert Quote.objects.count() == 2
    assert not Instrument.objects.filter(shares_outstanding=None).exists()
    assert DailyBar.objects.filter(instrument__symbol="IREN").count() > 1000


@pytest.mark.django_db
def test_a_worker_on_another_queue_starts_nothing(eager, provider):
    InstrumentFactory(symbol="IREN")
    provider.provider = SimulatedProvider()
    consumer = SimpleNamespace(task_consumer=SimpleNamespace(queues=[Queue("test-abc")]))
    tasks._refresh_when_a_worker_starts(sender=consumer)
    assert not RefreshRun.objects.exists()
