"""The suite's clock.

By default the tests run on the real clock, and a test whose outcome depends on the date either
freezes its own clock (time-machine) or says so with `@pytest.mark.calendar`.

- `--clock=2027-01-18T15:00:00+00:00` moves the whole run (and the worker processes the tests
  start through `tests.clocked`) to that moment, ticking from there: the suite must pass on any day.
- `--calendar-sweep=2026-12-07:365` runs each test marked `calendar` once on each of 365
  consecutive days. The hour of the day moves with the day (7 hours a day), so over a year every
  weekday meets every hour: before New York's pre-market, in session, after hours, and the UTC
  evening when New York is still on the day before.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine

OFFSET_ENV = "MINERWATCH_TEST_CLOCK_OFFSET"


def pytest_addoption(parser):
    group = parser.getgroup("minerwatch clock")
    group.addoption(
        "--clock",
        metavar="ISO-DATETIME",
        help="run every test (and the processes they start) from this moment, ticking",
    )
    group.addoption(
        "--calendar-sweep",
        metavar="START:DAYS",
        help="run the tests marked `calendar` once on each of DAYS consecutive days from START",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "calendar: the outcome depends on today's date; --calendar-sweep runs it on every day",
    )
    moment = config.getoption("--clock")
    if moment:
        destination = dt.datetime.fromisoformat(moment)
        if destination.tzinfo is None:
            destination = destination.replace(tzinfo=dt.UTC)
        offset = destination.timestamp() - dt.datetime.now(dt.UTC).timestamp()
        os.environ[OFFSET_ENV] = repr(offset)
        traveller = time_machine.travel(destination, tick=True)
        traveller.start()
        config._minerwatch_clock = traveller


def pytest_unconfigure(config):
    traveller = getattr(config, "_minerwatch_clock", None)
    if traveller is not None:
        traveller.stop()
        os.environ.pop(OFFSET_ENV, None)


def sweep_days(option: str) -> list[dt.datetime]:
    """The moments of a sweep: `START:DAYS`, each day at an hour that moves 7 hours a day."""
    start_text, _, count_text = option.partition(":")
    start = dt.date.fromisoformat(start_text)
    count = int(count_text or 365)
    moments = []
    for index in range(count):
        day = start + dt.timedelta(days=index)
        hour = (index * 7) % 24
        minute = (index * 13) % 60
        moments.append(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC))
    return moments


def pytest_generate_tests(metafunc):
    option = metafunc.config.getoption("--calendar-sweep")
    if option and metafunc.definition.get_closest_marker("calendar"):
        moments = sweep_days(option)
        metafunc.fixturenames.append("calendar_moment")
        metafunc.parametrize(
            "calendar_moment", moments, ids=[m.strftime("%Y-%m-%dT%H%M") for m in moments]
        )


@pytest.fixture(autouse=True)
def _calendar_clock(request):
    """A swept test runs from its day's moment, ticking."""
    moment = getattr(request.node, "callspec", None)
    moment = moment.params.get("calendar_moment") if moment else None
    if moment is None:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


def clocked_command(argv: list[str]) -> list[str]:
    """A command line for a Python subprocess that keeps this run's clock (see tests.clocked)."""
    return [argv[0], "-m", "tests.clocked", *argv[1:]]
