"""When a price alert fires: on reaching its threshold while armed, with hysteresis.

An alert is armed while it may fire. It fires when the price reaches its threshold (a price
equal to it counts), which disarms it; it is armed again only once the price has gone back
`percent` past the threshold (the re-arm level), so a price hovering a few dollars around the
threshold sends one notification, not one per wobble. An alert set while the price is already
past its threshold starts disarmed: it fires after the price has gone back and reached it anew.
`step` is a pure function of the state, the price and the threshold, so the refresh and the
stream's evaluations decide alike.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Decimal

HUNDRED = Decimal(100)
PLACES = Decimal("0.00000001")


class Crossing(enum.Enum):
    FIRE = "fire"  # armed and the price reached the threshold: fire, and disarm
    REARM = "rearm"  # disarmed and the price went back past the re-arm level: arm again
    NONE = "none"  # nothing changes


def holds(price: Decimal, threshold: Decimal, *, above: bool) -> bool:
    """Whether the price is at or past the threshold (a price equal to it counts)."""
    return price >= threshold if above else price <= threshold


def rearm_level(threshold: Decimal, *, above: bool, percent: Decimal) -> Decimal:
    """The price an alert that fired must go back to (or past) before it may fire again:
    `percent` below an "above" threshold, above a "below" one (to 8 places)."""
    factor = 1 - percent / HUNDRED if above else 1 + percent / HUNDRED
    return (threshold * factor).quantize(PLACES, rounding=ROUND_HALF_EVEN)


def step(
    armed: bool, price: Decimal, threshold: Decimal, *, above: bool, percent: Decimal
) -> Crossing:
    """What the price `price` does to an alert on `threshold` that is `armed` or not."""
    if armed:
        return Crossing.FIRE if holds(price, threshold, above=above) else Crossing.NONE
    level = rearm_level(threshold, above=above, percent=percent)
    gone_back = price <= level if above else price >= level
    return Crossing.REARM if gone_back else Crossing.NONE


def starts_armed(price: Decimal | None, threshold: Decimal, *, above: bool) -> bool:
    """A new (or resumed, or edited) alert is armed unless the price is already past its
    threshold; without a price yet, the first one past it fires."""
    return price is None or not holds(price, threshold, above=above)
