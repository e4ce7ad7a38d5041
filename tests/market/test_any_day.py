"""What depends on today's date, on today's date: `--calendar-sweep` runs these on every day of a
year (CI does), each against exchange_calendars' XNYS calendar read directly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from market import sessions
from market.models import DailyBar
from market.providers.simulated import SimulatedProvider
from market.services import backfill_bars, update_bars
from tests.factories import InstrumentFactory
from tests.market.xnys import NEW_YORK, bar_dates_of_a_backfill, calendar

pytestmark = pytest.mark.calendar


def _expected_state(moment: dt.datetime) -> str:
    """pre 04:00 to the open, regular to the close (13:00 on an early close), post for four hours
    after it, closed otherwise and on days the exchange does not open."""
    local = moment.astimezone(NEW_YORK)
    xnys = calendar()
    if not xnys.is_session(local.date().isoformat()):
        return "closed"
    opening = xnys.session_open(local.date().isoformat()).to_pydatetime()
    closing = xnys.session_close(local.date().isoformat()).to_pydatetime()
    pre_open = dt.datetime.combine(local.date(), dt.time(4, 0), tzinfo=NEW_YORK)
    if moment < pre_open or moment >= closing + dt.timedelta(hours=4):
        return "closed"
    if moment < opening:
        return "pre"
    return "regular" if moment < closing else "post"


def test_the_session_badge_agrees_with_the_exchange():
    now = timezone.now()
    info = sessions.session_info()
    assert info.state == _expected_state(now)
    assert info.new_york_time.date() == now.astimezone(NEW_YORK).date()
    next_open = calendar().next_open(now.astimezone(dt.UTC).replace(tzinfo=None)).to_pydatetime()
    assert info.next_open == next_open


def test_the_daily_update_after_a_backfill_keeps_every_session(db):
    InstrumentFactory(symbol="IREN")
    moment = timezone.now()
    provider = SimulatedProvider()
    backfill_bars(symbols=["IREN"], years=1, provider=provider)
    update_bars(provider=provider)
    dates = list(DailyBar.objects.order_by("date").values_list("date", flat=True))
    assert dates == bar_dates_of_a_backfill(moment, years=1)
