"""Market sessions: when US equities, crypto and FX trade, told in New York time.

US equities, ETFs and indices follow the New York Stock Exchange calendar (exchange_calendars'
XNYS: holidays and early closes) plus the extended hours of the US venues:

- pre-market 04:00-09:30, regular session 09:30-16:00, after hours 16:00-20:00;
- on an early-close day (the day after Thanksgiving, Christmas Eve, July 3) the regular session
  ends at 13:00 and after hours run 13:00-17:00: Nasdaq and NYSE Arca end their post-market
  session four hours after the close on those days, so after hours always last four hours;
- closed on weekends, on holidays and from 20:00 to 04:00.

Crypto trades all the time. FX (kind "fx") trades from Sunday 17:00 to Friday 17:00 New York
time; FX holidays (Christmas, New Year's Day) are not modelled.

Importing exchange_calendars (it brings pandas) and building a calendar takes a second or two,
so the sessions of a year and its neighbours are built once, flattened into plain dictionaries,
kept in the process and shared with other processes through the cache.
"""

from __future__ import annotations

import bisect
import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from django.core.cache import cache
from django.utils import timezone

from market.models import MarketState
from market.rules import NEW_YORK

PRE_OPEN = time(4, 0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
POST_CLOSE = time(20, 0)
AFTER_HOURS = timedelta(hours=4)  # after hours last four hours after the close, early or not
FX_OPEN_CLOSE = time(17, 0)  # FX opens Sunday 17:00 and closes Friday 17:00 New York time

OPEN_STATES = frozenset({MarketState.PRE, MarketState.REGULAR, MarketState.POST})


@dataclass(frozen=True)
class TradingDay:
    """One XNYS session day and its boundaries (aware datetimes in New York time)."""

    day: date
    pre_open: datetime
    regular_open: datetime
    regular_close: datetime
    post_close: datetime

    @property
    def early_close(self) -> bool:
        return self.regular_close.time() < REGULAR_CLOSE


@dataclass(frozen=True)
class SessionInfo:
    """What the dashboard's session badge shows for US equities."""

    state: str  # a MarketState value: pre, regular, post, closed
    label: str  # "Pre-market", "Open", "After hours", "Closed"
    new_york_time: datetime
    next_state: str  # the state that begins at `next_change`
    next_change: datetime  # New York time
    next_open: datetime  # the next regular-session open (New York time), after now
    closes_at: datetime | None  # today's regular close while pre-market or open (13:00 if early)
    early_close: bool  # today is an early-close day
    holiday: str  # the holiday's name when today is one, else ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class _Calendar:
    """XNYS session days of a few years, flattened into plain Python for cheap lookups."""

    def __init__(
        self, first: date, last: date, sessions: list[tuple[date, datetime, datetime]], holidays
    ):
        self.first, self.last = first, last
        self.by_day: dict[date, TradingDay] = {
            day: TradingDay(
                day=day,
                pre_open=datetime.combine(day, PRE_OPEN, tzinfo=NEW_YORK),
                regular_open=regular_open.astimezone(NEW_YORK),
                regular_close=regular_close.astimezone(NEW_YORK),
                post_close=regular_close.astimezone(NEW_YORK) + AFTER_HOURS,
            )
            for day, regular_open, regular_close in sessions
        }
        self.days = sorted(self.by_day)
        self.holidays: dict[date, str] = dict(holidays)

    def next_trading_day(self, day: date) -> TradingDay | None:
        """The first session day strictly after `day` (None past the covered years)."""
        index = bisect.bisect_right(self.days, day)
        return self.by_day[self.days[index]] if index < len(self.days) else None

    def previous_trading_day(self, day: date) -> TradingDay | None:
        """The last session day strictly before `day` (None before the covered years)."""
        index = bisect.bisect_left(self.days, day)
        return self.by_day[self.days[index - 1]] if index > 0 else None


def _exchange_calendar_rows(first: date, last: date):
    """(sessions, holidays) of XNYS between two dates, as plain values (picklable, cacheable)."""
    import exchange_calendars  # imports pandas: only the process that builds the cache pays

    calendar = exchange_calendars.get_calendar("XNYS", start=first, end=last)
    schedule = calendar.schedule
    sessions = [
        (label.date(), opening.to_pydatetime(), closing.to_pydatetime())
        for label, opening, closing in zip(
            schedule.index, schedule["open"], schedule["close"], strict=True
        )
    ]
    names = calendar.regular_holidays.holidays(first, last, return_name=True)
    holidays = {stamp.date(): str(name) for stamp, name in names.items() if stamp.weekday() < 5}
    for stamp in calendar.adhoc_holidays:
        if first <= stamp.date() <= last:
            holidays.setdefault(stamp.date(), "Market holiday")
    return sessions, holidays


@lru_cache(maxsize=4)
def _calendar_for_year(year: int) -> _Calendar:
    """The calendar of `year` and its neighbours: built once per process, and shared between
    processes through the cache so that a web process never has to import pandas for it."""
    first, last = date(year - 1, 1, 1), date(year + 1, 12, 31)
    key = f"market:xnys-sessions:v1:{year}"
    try:
        rows = cache.get(key)
    except Exception:  # a cache that is down must not take the market sessions with it
        rows = None
    if rows is None:
        rows = _exchange_calendar_rows(first, last)
        with contextlib.suppress(Exception):
            cache.set(key, rows, timeout=7 * 24 * 3600)
    sessions, holidays = rows
    return _Calendar(first, last, sessions, holidays)


def _calendar(day: date) -> _Calendar:
    return _calendar_for_year(day.year)


def trading_day(day: date) -> TradingDay | None:
    """The XNYS session of `day` (a New York date), or None on weekends and holidays."""
    return _calendar(day).by_day.get(day)


def next_trading_day(day: date) -> TradingDay:
    """The first XNYS session day strictly after `day`."""
    found = _calendar(day).next_trading_day(day)
    if found is None:  # `day` is late in December of the last covered year
        found = _calendar(date(day.year + 1, 1, 1)).next_trading_day(day)
    if found is None:
        raise LookupError(f"no NYSE session after {day}")
    return found


def previous_trading_day(day: date) -> TradingDay:
    """The last XNYS session day strictly before `day`."""
    found = _calendar(day).previous_trading_day(day)
    if found is None:  # `day` is early in January of the first covered year
        found = _calendar(date(day.year - 1, 12, 31)).previous_trading_day(day)
    if found is None:
        raise LookupError(f"no NYSE session before {day}")
    return found


def regular_session_day(at: datetime) -> date:
    """The New York trading day whose regular session opened last at or before `at`: today from
    its open on, the previous session day before that (pre-market, overnight, weekends)."""
    local = _aware(at).astimezone(NEW_YORK)
    today = trading_day(local.date())
    if today is not None and local >= today.regular_open:
        return today.day
    return previous_trading_day(local.date()).day


def holiday_name(day: date) -> str:
    """The NYSE holiday's name on `day` (a weekday the exchange is closed), or ""."""
    return _calendar(day).holidays.get(day, "")


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return timezone.now()
    if at.tzinfo is None:
        raise ValueError("session functions need an aware datetime")
    return at


def us_equity_state(at: datetime | None = None) -> str:
    """The US equity market's state at `at` (default now): pre, regular, post or closed."""
    local = _aware(at).astimezone(NEW_YORK)
    session = trading_day(local.date())
    if session is None or local < session.pre_open or local >= session.post_close:
        return MarketState.CLOSED
    if local < session.regular_open:
        return MarketState.PRE
    if local < session.regular_close:
        return MarketState.REGULAR
    return MarketState.POST


def fx_state(at: datetime | None = None) -> str:
    """FX: open (regular) from Sunday 17:00 to Friday 17:00 New York time, else closed."""
    local = _aware(at).astimezone(NEW_YORK)
    weekday, clock = local.weekday(), local.time()
    closed = (
        weekday == 5
        or (weekday == 4 and clock >= FX_OPEN_CLOSE)
        or (weekday == 6 and clock < FX_OPEN_CLOSE)
    )
    return MarketState.CLOSED if closed else MarketState.REGULAR


def session_state(instrument_kind: str, at: datetime | None = None) -> str:
    """The state of the market an instrument of `instrument_kind` trades in, at `at`."""
    if instrument_kind == "crypto":
        return MarketState.REGULAR
    if instrument_kind == "fx":
        return fx_state(at)
    return us_equity_state(at)


def is_open(instrument_kind: str, at: datetime | None = None) -> bool:
    """Whether the instrument trades at `at` in any session (pre-market, regular, after hours)."""
    return session_state(instrument_kind, at) in OPEN_STATES


def _us_transitions(local: datetime) -> list[tuple[datetime, str]]:
    """(moment, state that begins) for today's session and the next one, in order."""
    moments = []
    session = trading_day(local.date())
    for day in (session, next_trading_day(local.date())):
        if day is not None:
            moments += [
                (day.pre_open, MarketState.PRE),
                (day.regular_open, MarketState.REGULAR),
                (day.regular_close, MarketState.POST),
                (day.post_close, MarketState.CLOSED),
            ]
    return moments


def next_session_start(at: datetime | None = None, instrument_kind: str = "equity") -> datetime:
    """When the next trading session begins after `at` (New York time).

    For US equities: the next pre-market, regular or after-hours start strictly after `at`
    (04:00, 09:30, the close), skipping weekends and holidays. For FX: the next Sunday 17:00.
    Crypto never closes, so its next session starts at the next midnight UTC (its daily bar).
    """
    moment = _aware(at)
    local = moment.astimezone(NEW_YORK)
    if instrument_kind == "crypto":
        midnight = datetime.combine(moment.astimezone(UTC).date() + timedelta(days=1), time(0))
        return midnight.replace(tzinfo=UTC).astimezone(NEW_YORK)
    if instrument_kind == "fx":
        days_ahead = (6 - local.weekday()) % 7
        sunday = datetime.combine(local.date() + timedelta(days=days_ahead), FX_OPEN_CLOSE)
        start = sunday.replace(tzinfo=NEW_YORK)
        return start if start > local else start + timedelta(days=7)
    for when, state in _us_transitions(local):
        if when > local and state != MarketState.CLOSED:
            return when
    raise LookupError(f"no NYSE session after {local}")  # pragma: no cover - calendar covers it


def next_regular_open(at: datetime | None = None) -> datetime:
    """The next 09:30 regular-session open strictly after `at` (New York time)."""
    local = _aware(at).astimezone(NEW_YORK)
    for when, state in _us_transitions(local):
        if when > local and state == MarketState.REGULAR:
            return when
    raise LookupError(f"no NYSE session after {local}")  # pragma: no cover


def session_info(at: datetime | None = None) -> SessionInfo:
    """The US equity session at `at` (default now), for the dashboard's badge."""
    local = _aware(at).astimezone(NEW_YORK)
    state = us_equity_state(local)
    next_change, next_state = next(
        (when, new_state) for when, new_state in _us_transitions(local) if when > local
    )
    today = trading_day(local.date())
    return SessionInfo(
        state=state,
        label=MarketState(state).label,
        new_york_time=local,
        next_state=next_state,
        next_change=next_change,
        next_open=next_regular_open(local),
        closes_at=today.regular_close
        if today is not None and state in (MarketState.PRE, MarketState.REGULAR)
        else None,
        early_close=today is not None and today.early_close,
        holiday="" if today is not None else holiday_name(local.date()),
    )
