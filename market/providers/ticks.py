"""A live price tick, as every streaming source hands it to the streamer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

PRE = "pre"
REGULAR = "regular"
POST = "post"
# A session the source does not name (overnight trading): pre- or after-hours, by the clock.
EXTENDED = "extended"


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    price: Decimal
    at: datetime  # when the price traded, from the source (not when it arrived)
    session: str  # PRE, REGULAR, POST or EXTENDED
    change: Decimal | None = None  # against the previous close, as the source computes it
    change_percent: Decimal | None = None
    day_high: Decimal | None = None
    day_low: Decimal | None = None
    volume: int | None = None
    currency: str = ""
