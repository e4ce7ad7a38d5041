"""The market commands: a progress bar on stderr, a summary on stdout, clear errors."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from market.models import DailyBar, PriceSnapshot, Quote, RefreshRun
from market.providers import ProviderUnavailable
from tests.factories import InstrumentFactory
from tests.market.fake_provider import FakeProvider
from tests.market.xnys import bar_dates_of_a_backfill

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_refresh_quotes_draws_a_bar_and_prints_a_summary(universe):
    out, err = run("refresh_quotes", "--force", "--provider", "simulated")
    assert "quotes [" in err and "23/23" in err
    assert "Quotes: ok, 23 instruments requested, 23 stored, 0 failed, 23 snapshots" in out
    assert Quote.objects.count() == 23


def test_refresh_quotes_refuses_symbols_that_are_not_instruments(universe):
    with pytest.raises(CommandError, match="Not an instrument: NOPE"):
        run("refresh_quotes", "--symbols", "IREN", "nope", "--provider", "simulated")
    assert not RefreshRun.objects.exists()


def test_refresh_quotes_fails_with_the_providers_reason(db, monkeypatch):
    from market.management.commands import refresh_quotes

    InstrumentFactory(symbol="AAA")
    down = FakeProvider(raises=ProviderUnavailable("connection refused"))
    monkeypatch.setattr(refresh_quotes, "get_provider", lambda name=None: down)
    with pytest.raises(CommandError, match="connection refused"):
        run("refresh_quotes", "--force")
    assert RefreshRun.objects.get().status == "failed"


def test_refresh_profiles_prints_a_summary(universe):
    out, err = run("refresh_profiles", "--provider", "simulated")
    assert "profiles [" in err
    assert "Profiles: ok, 23 instruments requested, 23 stored" in out


def test_backfill_bars_for_some_symbols_then_the_missing_ones(universe):
    # Monday 2026-12-07, 10:00 in New York: a year back from 2025-12-07 holds 251 XNYS sessions
    # (2025-12-08 to 2026-12-07; 2025-12-25, 2026-01-01, 01-19, 02-16, 04-03, 05-25, 06-19,
    # 07-03, 09-07, 11-26 and the weekends left out), today's included since it has opened.
    with time_machine.travel(dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC), tick=False):
        out, err = run(
            "backfill_bars", "--symbols", "IREN", "--years", "1", "--provider", "simulated"
        )
    assert "bars [" in err
    assert "Daily bars: ok, 1 instrument requested, 1 stored" in out
    stored = DailyBar.objects.filter(instrument__symbol="IREN")
    assert stored.count() == 251
    assert stored.earliest("date").date == dt.date(2025, 12, 8)
    assert stored.latest("date").date == dt.date(2026, 12, 7)

    out, _ = run("backfill_bars", "--missing", "--years", "1", "--provider", "simulated")
    assert "22 instruments requested, 22 stored" in out
    out, _ = run("backfill_bars", "--missing", "--provider", "simulated")
    assert "every active instrument already has bars" in out


@pytest.mark.calendar
def test_a_years_backfill_holds_every_session_of_the_year_on_any_day(db):
    InstrumentFactory(symbol="IREN")
    moment = timezone.now()
    run("backfill_bars", "--symbols", "IREN", "--years", "1", "--provider", "simulated")
    stored = DailyBar.objects.filter(instrument__symbol="IREN").order_by("date")
    assert list(stored.values_list("date", flat=True)) == bar_dates_of_a_backfill(moment, years=1)


def test_backfill_bars_refuses_bad_arguments(universe):
    with pytest.raises(CommandError, match="at least 1"):
        run("backfill_bars", "--years", "0")
    with pytest.raises(CommandError, match="--symbols goes with a backfill"):
        run("backfill_bars", "--update", "--symbols", "IREN")


def test_prune_snapshots_prints_what_it_deleted(universe, settings):
    settings.SNAPSHOT_RETENTION_DAYS = 1
    run("refresh_quotes", "--force", "--provider", "simulated")
    PriceSnapshot.objects.update(taken_at=timezone.now() - timedelta(days=2))
    out, err = run("prune_snapshots")
    assert "Pruned 23 snapshots" in out
    assert not PriceSnapshot.objects.exists()
