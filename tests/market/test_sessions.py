"""Market sessions: XNYS holidays and early closes, extended hours, weekends, crypto and FX."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from market import sessions
from market.sessions import NEW_YORK, next_session_start, session_info, session_state

CLOSED, PRE, REGULAR, POST = "closed", "pre", "regular", "post"


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("clock", "state"),
    [
        ((0, 0), CLOSED),
        ((3, 59), CLOSED),
        ((4, 0), PRE),
        ((9, 29), PRE),
        ((9, 30), REGULAR),
        ((15, 59), REGULAR),
        ((16, 0), POST),
        ((19, 59), POST),
        ((20, 0), CLOSED),
        ((23, 59), CLOSED),
    ],
)
def test_edges_of_an_ordinary_day_in_new_york_time(clock, state):
    with time_machine.travel(ny(2026, 11, 24, *clock), tick=False):
        assert session_state("equity") == state
        assert session_info().state == state
    assert session_state("etf", ny(2026, 11, 24, *clock)) == state


def test_thanksgiving_is_closed_all_day():
    for hour in (3, 5, 10, 15, 18):
        assert session_state("equity", ny(2026, 11, 26, hour, 0)) == CLOSED
    with time_machine.travel(ny(2026, 11, 26, 11, 0), tick=False):
        info = session_info()
    assert info.state == CLOSED
    assert info.label == "Closed"
    assert info.holiday == "Thanksgiving"
    assert info.next_change == ny(2026, 11, 27, 4, 0)
    assert info.next_state == PRE
    assert info.next_open == ny(2026, 11, 27, 9, 30)
    assert info.closes_at is None


@pytest.mark.parametrize(
    ("clock", "state"),
    [
        ((3, 59), CLOSED),
        ((4, 0), PRE),
        ((9, 30), REGULAR),
        ((12, 59), REGULAR),
        ((13, 0), POST),
        ((16, 59), POST),
        ((17, 0), CLOSED),
        ((19, 0), CLOSED),
    ],
)
def test_day_after_thanksgiving_closes_early_at_13_and_after_hours_end_at_17(clock, state):
    assert session_state("equity", ny(2026, 11, 27, *clock)) == state


def test_session_info_on_the_early_close_day():
    with time_machine.travel(ny(2026, 11, 27, 10, 15), tick=False):
        info = session_info()
    assert info.state == REGULAR
    assert info.label == "Open"
    assert info.is_open
    assert info.early_close is True
    assert info.closes_at == ny(2026, 11, 27, 13, 0)
    assert info.next_change == ny(2026, 11, 27, 13, 0)
    assert info.next_state == POST
    # The next open skips the weekend.
    assert info.next_open == ny(2026, 11, 30, 9, 30)
    assert info.new_york_time == ny(2026, 11, 27, 10, 15)
    assert info.new_york_time.utcoffset().total_seconds() == -5 * 3600


def test_weekend_is_closed_and_the_next_session_is_monday_pre_market():
    saturday_noon = ny(2026, 11, 28, 12, 0)
    assert session_state("equity", saturday_noon) == CLOSED
    assert session_state("index", ny(2026, 11, 29, 12, 0)) == CLOSED
    assert next_session_start(saturday_noon) == ny(2026, 11, 30, 4, 0)
    info = session_info(saturday_noon)
    assert info.holiday == ""  # a weekend is not a holiday
    assert info.next_open == ny(2026, 11, 30, 9, 30)


def test_next_session_start_is_the_next_change_into_a_session():
    assert next_session_start(ny(2026, 11, 24, 3, 59)) == ny(2026, 11, 24, 4, 0)
    assert next_session_start(ny(2026, 11, 24, 4, 0)) == ny(2026, 11, 24, 9, 30)
    assert next_session_start(ny(2026, 11, 24, 10, 0)) == ny(2026, 11, 24, 16, 0)
    # After hours end at 20:00; the next session is tomorrow's pre-market, not the holiday's.
    assert next_session_start(ny(2026, 11, 25, 20, 0)) == ny(2026, 11, 27, 4, 0)


def test_summer_time_and_an_observed_holiday():
    # 09:30 in New York is 13:30 UTC in July; July 3, 2026 is Independence Day observed.
    assert session_state("equity", datetime(2026, 7, 2, 13, 30, tzinfo=UTC)) == REGULAR
    assert session_state("equity", datetime(2026, 7, 2, 13, 29, tzinfo=UTC)) == PRE
    assert session_state("equity", ny(2026, 7, 3, 10, 0)) == CLOSED
    assert session_info(ny(2026, 7, 3, 10, 0)).holiday != ""


@pytest.mark.parametrize(
    "moment",
    [
        ny(2026, 11, 26, 10, 0),
        ny(2026, 11, 28, 3, 0),
        ny(2026, 11, 24, 21, 0),
        ny(2026, 12, 25, 0, 0),
    ],
)
def test_crypto_always_trades(moment):
    assert session_state("crypto", moment) == REGULAR
    assert sessions.is_open("crypto", moment)


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (ny(2026, 11, 27, 16, 59), REGULAR),  # Friday
        (ny(2026, 11, 27, 17, 0), CLOSED),
        (ny(2026, 11, 28, 12, 0), CLOSED),  # Saturday
        (ny(2026, 11, 29, 16, 59), CLOSED),  # Sunday
        (ny(2026, 11, 29, 17, 0), REGULAR),
        (ny(2026, 11, 26, 12, 0), REGULAR),  # Thanksgiving: FX trades
    ],
)
def test_fx_trades_from_sunday_to_friday_17_new_york(moment, state):
    assert session_state("fx", moment) == state


def test_fx_next_session_is_sunday_17():
    assert next_session_start(ny(2026, 11, 28, 9, 0), "fx") == ny(2026, 11, 29, 17, 0)
    assert next_session_start(ny(2026, 11, 29, 17, 0), "fx") == ny(2026, 12, 6, 17, 0)


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        session_state("equity", datetime(2026, 11, 24, 10, 0))


def test_the_calendar_is_built_once_per_process_and_year():
    session_state("equity", ny(2026, 1, 5, 10, 0))  # make sure 2026 is built
    before = sessions._calendar_for_year.cache_info()
    for day in range(1, 29):
        session_state("equity", ny(2026, 2, day, 10, 0))
        session_info(ny(2026, 2, day, 10, 0))
    after = sessions._calendar_for_year.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits


def test_the_flattened_calendar_matches_exchange_calendars():
    import exchange_calendars

    reference = exchange_calendars.get_calendar("XNYS", start="2026-01-01", end="2026-12-31")
    ours = [d for d in sessions._calendar_for_year(2026).days if d.year == 2026]
    assert ours == [label.date() for label in reference.sessions]
    early = {label.date() for label in reference.early_closes}
    assert {d for d in ours if sessions.trading_day(d).early_close} == early
