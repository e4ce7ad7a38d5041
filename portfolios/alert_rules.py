"""When a price alert fires: on a crossing of its threshold, not while the condition holds.

`crossing` is a pure function of the price the alert last saw, the new price and the threshold,
so the refresh evaluation and a per-tick evaluation decide alike. An alert is armed while the
price is on the far side of its threshold; it fires when the price reaches the threshold from
there, and re-arms when the price goes back.
"""

from __future__ import annotations

import enum
from decimal import Decimal


class Crossing(enum.Enum):
    FIRE = "fire"  # the price reached the threshold from the far side
    REARM = "rearm"  # the price went back to the far side: the next reach fires again
    NONE = "none"  # still on the same side


def holds(price: Decimal, threshold: Decimal, *, above: bool) -> bool:
    """Whether the price is at or past the threshold (a price equal to it counts)."""
    return price >= threshold if above else price <= threshold


def crossing(
    previous: Decimal | None, new: Decimal, threshold: Decimal, *, above: bool
) -> Crossing:
    """What a move from `previous` to `new` means for an alert on `threshold`.

    `previous` is None when the alert has seen no price yet (set before its instrument had a
    quote): a first price past the threshold then counts as a crossing. An alert created while
    the price is already past it starts from that price, so it waits for the price to go back.
    """
    now_holds = holds(new, threshold, above=above)
    before_held = previous is not None and holds(previous, threshold, above=above)
    if now_holds and not before_held:
        return Crossing.FIRE
    if before_held and not now_holds:
        return Crossing.REARM
    return Crossing.NONE
