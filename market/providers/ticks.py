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
    # Against the last regular close (the previous close in the regular session), as the source
    # computes it; None when the source does not say.
    change: Decimal | None = None
    change_percent: Decimal | None = None
    # The close `change` is measured from (price - change), when the source tells it.
    reference_price: Decimal | None = None
    day_high: Decimal | None = None
    day_low: Decimal | None = None
    volume: int | None = None
    currency: str = ""
