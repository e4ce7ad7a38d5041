"""The provider dataclasses hold clean numbers: built from anything else, they refuse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from market.providers.base import (
    BarData,
    DividendData,
    MalformedData,
    ProfileData,
    QuoteData,
    SplitData,
    clean_count,
    clean_money,
    clean_price,
)


@pytest.mark.parametrize(
    ("value", "clean"),
    [
        (244.6, Decimal("244.6")),  # a float through its shortest repr
        ("13.2375", Decimal("13.2375")),
        (Decimal("1.123456789"), Decimal("1.12345679")),  # 8 places, half even
        (Decimal("0.000000005"), None),  # rounds to zero
        (0, None),
        (-1, None),
        (float("nan"), None),
        (float("inf"), None),
        (Decimal("NaN"), None),
        ("n/a", None),
        (True, None),
        (None, None),
        (Decimal(10) ** 12, None),  # does not fit DecimalField(max_digits=20, decimal_places=8)
    ],
)
def test_clean_price(value, clean):
    assert clean_price(value) == clean


def test_clean_money_and_count():
    assert clean_money(3674405863424) == Decimal("3674405863424.00")
    assert clean_money(-5, positive=False) == Decimal("-5.00")
    assert clean_money(-5) is None
    assert clean_count(40896227.0) == 40896227
    assert clean_count(-5) is None and clean_count(True) is None and clean_count(2**63) is None


@pytest.mark.parametrize(
    "price", [Decimal("NaN"), None, float("nan"), Decimal("-1"), Decimal("Infinity"), 7.0]
)
def test_a_quote_refuses_an_unusable_price(price):
    with pytest.raises(MalformedData, match="^X: "):
        QuoteData(symbol="X", price=price)


@pytest.mark.parametrize(
    "fields",
    [
        {"previous_close": Decimal("NaN")},
        {"day_high": Decimal("1.123456789")},  # more places than the column
        {"volume": float("nan")},
        {"volume": -1},
        {"shares_outstanding": Decimal(5)},  # counts are ints
        {"market_cap": Decimal("0")},
        {"provider_time": datetime(2025, 2, 14, 21, 0)},  # naive
        {"provider_time": datetime(2025, 2, 14, 16, 0, tzinfo=timezone(timedelta(hours=-5)))},
        {"currency": "usd"},
    ],
)
def test_a_quote_refuses_unclean_optional_fields(fields):
    with pytest.raises(MalformedData):
        QuoteData(symbol="X", price=Decimal("7"), **fields)


def test_clean_records_are_accepted():
    quote = QuoteData(
        symbol="X",
        price=Decimal("7.00"),
        volume=5,
        market_cap=Decimal("12.50"),
        provider_time=datetime(2025, 2, 14, 21, 0, tzinfo=UTC),
        currency="USD",
    )
    assert quote.market_cap == Decimal("12.5")
    assert ProfileData(symbol="X", enterprise_value=Decimal("-3.00")).enterprise_value < 0
    bar = BarData(date(2020, 1, 2), Decimal("1.5"), None, None, Decimal("2"), Decimal("2"), 9)
    assert bar.close == 2
    assert SplitData(date(2020, 8, 31), Decimal(4)).ratio == 4
    assert DividendData(date(2020, 11, 6), Decimal("0.205"), "USD").amount == Decimal("0.205")


@pytest.mark.parametrize(
    "build",
    [
        lambda: BarData(date(2020, 1, 2), None, None, None, Decimal("1.0000001"), Decimal(1)),
        lambda: BarData(date(2020, 1, 2), None, None, None, None, Decimal(1)),
        lambda: SplitData(date(2020, 1, 2), Decimal(0)),
        lambda: DividendData(date(2020, 1, 2), Decimal("-0.1"), "USD"),
        lambda: DividendData(date(2020, 1, 2), Decimal("0.1"), "GBp"),
        lambda: ProfileData(symbol="X", shares_outstanding=-3),
    ],
)
def test_other_records_refuse_unclean_values(build):
    with pytest.raises(MalformedData):
        build()
