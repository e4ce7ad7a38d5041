"""Thousands of alerts do not slow the live stream (issue 22, 9), on PostgreSQL.

5,000 alerts on BTC-USD, every one of them firing or re-arming on each swing of the price, while
the streamer writes a tick every quarter of a second: the streamer only notes the instrument, a
real Celery worker evaluates the alerts in batches (each statement under the worker's
DB_STATEMENT_TIMEOUT_MS of one second), and the quote stays as fresh as the ticks. Evaluated in
the streamer's write path, one evaluation of 20,307 alerts took about two minutes and the quotes
stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections

from market.models import Instrument, Quote
from market.providers.ticks import REGULAR, Tick
from market.streaming.channel import SocketPublisher
from market.streaming.state import StateRecorder
from market.streaming.streamer import Streamer
from portfolios.models import Notification, PriceAlert
from portfolios.streamed_alerts import streamed_alerts
from tests import conftest as shared
from tests.celery_routes import routed_to
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
D = Decimal
USERS, ALERTS_EACH = 50, 100
TICKS, TICK_SECONDS = 24, 0.25
HIGH, LOW = D("45000"), D("43000")


class SwingingBitcoin:
    """A tick source: BTC-USD every TICK_SECONDS, swinging between $45,000 and $43,000."""

    name = "simulated"

    def __init__(self, recorder: StateRecorder) -> None:
        self.recorder = recorder
        self.sent = 0

    async def run(self, on_tick) -> None:
        for n in range(TICKS):
            tick = Tick("BTC-USD", HIGH if n % 2 == 0 else LOW, datetime.now(UTC), REGULAR)
            self.recorder.tick_seen(tick.at)
            on_tick(tick)
            self.sent += 1
            await asyncio.sleep(TICK_SECONDS)
        await asyncio.sleep(3600)  # the stream stays open; the test stops it


@pytest.fixture
def alert_worker(request, monkeypatch):
    """A real worker evaluating the alerts, whose statements may take one second at most."""
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "1000")
    worker = request.getfixturevalue("celery_worker_process")
    with routed_to(worker.queue, "portfolios.tasks.evaluate_alerts"):
        yield worker
    streamed_alerts.stop()


@pytest.fixture
def bitcoin_alerts(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    bitcoin = Instrument.objects.create(
        symbol="BTC-USD", name="Bitcoin USD", kind="crypto", exchange="CCC", currency="USD"
    )
    Quote.objects.create(
        instrument=bitcoin,
        price=D("44000"),
        previous_close=D("44000"),
        market_state="regular",
        provider_time=datetime(2025, 6, 3, tzinfo=UTC),
        fetched_at=datetime(2025, 6, 3, tzinfo=UTC),
        source="simulated",
    )
    alerts = []
    for _ in range(USERS):
        owner = UserFactory(email="")
        for i in range(ALERTS_EACH // 2):
            # $44,000-44,490: fire at $45,000, armed again at $43,000 (1% under is over it);
            # $43,500-43,990: fire at $43,000, armed again at $45,000.
            alerts.append(
                PriceAlert(
                    owner=owner, instrument=bitcoin, condition="above", threshold=D(44000 + 10 * i)
                )
            )
            alerts.append(
                PriceAlert(
                    owner=owner, instrument=bitcoin, condition="below", threshold=D(43990 - 10 * i)
                )
            )
    PriceAlert.objects.bulk_create(alerts)
    return bitcoin


def test_live_quotes_keep_their_age_while_thousands_of_alerts_fire(
    alert_worker, bitcoin_alerts, settings, tmp_path
):
    settings.STREAM_FLUSH_SECONDS = 0.2
    settings.STREAM_SOCKET = str(tmp_path / "ticks.sock")
    settings.ALERT_STREAM_EVALUATION_SECONDS = 1
    assert PriceAlert.objects.count() == USERS * ALERTS_EACH
    recorder = StateRecorder("simulated")
    source = SwingingBitcoin(recorder)
    streamer = Streamer(
        source=source, publisher=SocketPublisher(tmp_path / "ticks.sock"), recorder=recorder
    )
    loop = asyncio.new_event_loop()
    # The streamer writes from the loop's executor: one thread, whose connection is closed last.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    running = loop.create_task(streamer.run())

    def stream() -> None:
        asyncio.set_event_loop(loop)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(running)
        loop.run_until_complete(loop.run_in_executor(None, connections.close_all))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    streaming = threading.Thread(target=stream)
    streaming.start()
    ages = []
    started = datetime.now(UTC)
    try:
        while source.sent < TICKS:
            provider_time = (
                Quote.objects.filter(instrument=bitcoin_alerts)
                .values_list("provider_time", flat=True)
                .get()
            )
            if provider_time >= started:  # from the first tick written
                ages.append((datetime.now(UTC) - provider_time).total_seconds())
            time.sleep(0.1)
        fired_while_streaming = Notification.objects.count()
    finally:
        loop.call_soon_threadsafe(running.cancel)
        streaming.join(30)
        streamed_alerts.flush()

    # The quote was as old as the tick interval and the flush, never waiting on the alerts.
    assert len(ages) >= 30, ages
    assert statistics.median(ages) < 0.5, ages
    assert max(ages) < 1.5, ages
    # The worker evaluated meanwhile (batch by batch: its notifications appear as it goes),
    # and after the last price ($43,000) every "below" alert has fired and every "above" one
    # is armed again.
    assert fired_while_streaming > 0, alert_worker.log()[-3000:]
    half = USERS * ALERTS_EACH // 2

    def settled() -> bool:
        return (
            PriceAlert.objects.filter(condition="below", armed=False).count() == half
            and PriceAlert.objects.filter(condition="above", armed=True).count() == half
        )

    deadline = time.monotonic() + 60
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert settled(), alert_worker.log()[-3000:]
    log = alert_worker.log()
    assert "portfolios.tasks.evaluate_alerts" in log
    assert "statement timeout" not in log
    assert "FAILURE" not in log


def test_a_transaction_left_idle_is_ended_by_the_server(tmp_path):
    """A process that holds a transaction open while it works elsewhere (its locks held) is cut
    off after DB_IDLE_TRANSACTION_TIMEOUT_MS; the statement timeout alone never fires there."""
    script = (
        "import django, time\n"
        "django.setup()\n"
        "from django.db import connection, transaction\n"
        "from portfolios.models import PriceAlert\n"
        "try:\n"
        "    with transaction.atomic():\n"
        "        list(PriceAlert.objects.select_for_update()[:1])\n"
        "        time.sleep(1.5)\n"
        "        list(PriceAlert.objects.all()[:1])\n"
        "    print('still open')\n"
        "except Exception as exc:\n"
        "    print('ended:', type(exc).__name__, str(exc).splitlines()[0])\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": shared.test_database_url(),
        "DB_IDLE_TRANSACTION_TIMEOUT_MS": "500",
        "VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.startswith("ended:"), (done.stdout, done.stderr[-2000:])
    assert "terminating connection due to idle-in-transaction timeout" in done.stdout
