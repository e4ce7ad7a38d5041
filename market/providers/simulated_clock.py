"""When the simulated market trades, in the epoch minutes its walk is evaluated at.

Sessions use New York time (pre 04:00-09:30, regular 09:30-16:00, post 16:00-20:00, on the
exchange's trading days, holidays excluded); crypto symbols (ending in "-USD") trade all the
time, their day running from 00:00 UTC like Yahoo's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import numpy as np

from market.rules import NEW_YORK

from . import simulated_market
from .base import CLOSED, POST, PRE, REGULAR
from .simulated_walk import MINUTES_PER_DAY

PRE_OPEN = time(4, 0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
POST_CLOSE = time(20, 0)
# Minutes between intraday samples used for the day's high and low.
RANGE_SAMPLE_MINUTES = 60


def _epoch_minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


@lru_cache(maxsize=8192)
def _ny_minute(day: date, at: time) -> int:
    return _epoch_minute(datetime.combine(day, at, tzinfo=NEW_YORK))


def _previous_business_day(day: date) -> date:
    day -= timedelta(days=1)
    while not simulated_market.is_trading_day(day):
        day -= timedelta(days=1)
    return day


def _last_business_day(day: date) -> date:
    while not simulated_market.is_trading_day(day):
        day -= timedelta(days=1)
    return day


class _Schedule:
    """The minutes to evaluate for one group of symbols (equities or crypto) at one instant."""

    def __init__(
        self,
        now_minute: int,
        state: str,
        price_minute: int,
        previous_close_minute: int,
        session_start: int,
        extended_minute: int | None,
        session_minutes: int,
    ):
        self.state = state
        self.price_minute = price_minute
        self.previous_close_minute = previous_close_minute
        self.session_start = session_start
        self.extended_minute = extended_minute
        self.elapsed_fraction = min(1.0, max(0.0, (price_minute - session_start) / session_minutes))
        samples = list(range(session_start, price_minute, RANGE_SAMPLE_MINUTES))
        # Columns: price, previous close, extended-hours price, then range samples.
        self.minutes = np.array(
            [price_minute, previous_close_minute, extended_minute or price_minute, *samples],
            dtype=np.int64,
        )
        self.now_minute = now_minute


def _equity_schedule(now: datetime) -> _Schedule:
    local = now.astimezone(NEW_YORK)
    today, clock = local.date(), local.time()
    now_minute = _epoch_minute(now)
    weekday = simulated_market.is_trading_day(today)
    if weekday and PRE_OPEN <= clock < REGULAR_OPEN:
        state, session_day, extended = PRE, _previous_business_day(today), now_minute
    elif weekday and REGULAR_OPEN <= clock < REGULAR_CLOSE:
        state, session_day, extended = REGULAR, today, None
    elif weekday and REGULAR_CLOSE <= clock < POST_CLOSE:
        state, session_day, extended = POST, today, now_minute
    else:
        state = CLOSED
        session_day = (
            _last_business_day(today)
            if clock >= POST_CLOSE or not weekday
            else _previous_business_day(today)
        )
        extended = _ny_minute(session_day, POST_CLOSE) - 1
    opening = _ny_minute(session_day, REGULAR_OPEN)
    closing = _ny_minute(session_day, REGULAR_CLOSE)
    price_minute = now_minute if state == REGULAR else closing
    previous_close = _ny_minute(_previous_business_day(session_day), REGULAR_CLOSE)
    return _Schedule(
        now_minute, state, price_minute, previous_close, opening, extended, closing - opening
    )


def _crypto_schedule(now: datetime) -> _Schedule:
    now_minute = _epoch_minute(now)
    day_start = now_minute - now_minute % MINUTES_PER_DAY
    # The previous close is the last minute of the previous UTC day, as in the daily bars.
    return _Schedule(
        now_minute, REGULAR, now_minute, day_start - 1, day_start, None, MINUTES_PER_DAY
    )


def _trading_days(start: date, end: date, *, crypto: bool) -> list[date]:
    days = []
    day = start
    while day <= end:
        if crypto or simulated_market.is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _session_bounds(day: date, *, crypto: bool) -> tuple[int, int]:
    if crypto:
        opening = _epoch_minute(datetime.combine(day, time(0), tzinfo=UTC))
        return opening, opening + MINUTES_PER_DAY - 1
    return _ny_minute(day, REGULAR_OPEN), _ny_minute(day, REGULAR_CLOSE)
