"""What a year of daily bars should hold, told by exchange_calendars' XNYS calendar directly (not
through market.sessions), so the bars tests hold on every day of the year."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


@lru_cache(maxsize=1)
def calendar():
    import exchange_calendars

    # Explicit bounds: the default ends a year after the real today, short of a sweep's last days.
    return exchange_calendars.get_calendar("XNYS", start="2015-01-01", end="2035-12-31")


def bar_dates_of_a_backfill(moment: dt.datetime, *, years: int) -> list[dt.date]:
    """The session days a backfill of `years` made at `moment` stores for a US equity: from the
    same calendar day `years` back (the 28th for a 29 February) to New York's today, today only
    once its regular session has opened (09:30)."""
    local = moment.astimezone(NEW_YORK)
    today = local.date()
    try:
        start = today.replace(year=today.year - years)
    except ValueError:
        start = today.replace(year=today.year - years, day=28)
    xnys = calendar()
    days = [
        session.date() for session in xnys.sessions_in_range(start.isoformat(), today.isoformat())
    ]
    if days and days[-1] == today:
        opening = xnys.session_open(today.isoformat()).to_pydatetime()
        if moment < opening:
            days.pop()
    return days
