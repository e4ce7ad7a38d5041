"""The rule of price alerts, as pure functions: fire when armed and the price reaches the
threshold; arm again once the price has gone back ALERT_REARM_PERCENT past it."""

from decimal import Decimal

import pytest

from portfolios.alert_rules import Crossing, rearm_level, starts_armed, step

D = Decimal
ONE = D("1")


@pytest.mark.parametrize(
    ("armed", "price", "above", "expected"),
    [
        (True, D("40"), True, Crossing.FIRE),  # armed, past 39
        (True, D("39"), True, Crossing.FIRE),  # reaching the threshold counts
        (True, D("38.99"), True, Crossing.NONE),
        (False, D("41"), True, Crossing.NONE),  # fired, still above: no second firing
        (False, D("38.62"), True, Crossing.NONE),  # under 39 but not 1% under: still waiting
        (False, D("38.61"), True, Crossing.REARM),  # 39 x 0.99 = 38.61: armed again
        (False, D("30"), True, Crossing.REARM),
        (True, D("39"), False, Crossing.FIRE),  # below 39: reaching it from above
        (True, D("39.01"), False, Crossing.NONE),
        (False, D("39.38"), False, Crossing.NONE),
        (False, D("39.39"), False, Crossing.REARM),  # 39 x 1.01
    ],
)
def test_step(armed, price, above, expected):
    assert step(armed, price, D("39"), above=above, percent=ONE) is expected


def test_rearm_level_to_eight_places():
    assert rearm_level(D("43963"), above=True, percent=ONE) == D("43523.37000000")
    assert rearm_level(D("43883"), above=False, percent=ONE) == D("44321.83000000")
    assert rearm_level(D("0.3333"), above=True, percent=D("2.5")) == D("0.32496750")
    assert rearm_level(D("39"), above=True, percent=D("0")) == D("39.00000000")


def test_an_alert_starts_disarmed_when_the_price_is_already_past_it():
    assert starts_armed(None, D("39"), above=True) is True  # no price yet: the first one fires
    assert starts_armed(D("38"), D("39"), above=True) is True
    assert starts_armed(D("39"), D("39"), above=True) is False
    assert starts_armed(D("40"), D("39"), above=False) is True
    assert starts_armed(D("38"), D("39"), above=False) is False
