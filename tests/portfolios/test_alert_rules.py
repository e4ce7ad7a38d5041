"""The crossing rule of price alerts, as a pure function."""

from decimal import Decimal

import pytest

from portfolios.alert_rules import Crossing, crossing

D = Decimal


@pytest.mark.parametrize(
    ("previous", "new", "above", "expected"),
    [
        (D("38"), D("40"), True, Crossing.FIRE),  # crossed up through 39
        (D("38"), D("39"), True, Crossing.FIRE),  # reaching the threshold counts
        (D("40"), D("41"), True, Crossing.NONE),  # still above: no second firing
        (D("40"), D("38"), True, Crossing.REARM),  # back below: armed again
        (D("37"), D("38"), True, Crossing.NONE),  # still below
        (None, D("40"), True, Crossing.FIRE),  # first price seen, already past it
        (None, D("38"), True, Crossing.NONE),
        (D("40"), D("39"), False, Crossing.FIRE),  # below 39: reaching it from above
        (D("38"), D("37"), False, Crossing.NONE),
        (D("38"), D("40"), False, Crossing.REARM),
    ],
)
def test_crossing(previous, new, above, expected):
    assert crossing(previous, new, D("39"), above=above) is expected
