"""The formatting filters and the shared quote cells used by every table of quotes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.template import Context, Template
from django.template.loader import render_to_string

from market.models import Instrument
from market.templatetags import market_format as f
from tests.factories import InstrumentFactory, QuoteFactory


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.565"), "$1,234.57"),
        (Decimal("2.675"), "$2.68"),  # float would round this down to 2.67
        (Decimal("-12.3"), "-$12.30"),
        (Decimal("-0.001"), "$0.00"),
        (0, "$0.00"),
        ("7", "$7.00"),
        (None, ""),
        ("n/a", ""),
        (Decimal("NaN"), ""),
    ],
)
def test_usd(value, expected):
    assert f.usd(value) == expected


def test_usd_with_more_decimals():
    assert f.usd(Decimal("0.123456"), 4) == "$0.1235"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.234"), "+1.23%"),
        (Decimal("1.235"), "+1.24%"),
        (Decimal("-0.5"), "-0.50%"),
        (Decimal("-0.004"), "0.00%"),
        (Decimal("512.3"), "+512.30%"),
        (Decimal("1234.5"), "+1,234.50%"),
        (0, "0.00%"),
        (None, ""),
    ],
)
def test_pct(value, expected):
    assert f.pct(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("89412345678"), "$89.4B"),
        (Decimal("512300000"), "$512.3M"),
        (12000, "$12.0K"),
        (Decimal("950.4"), "$950"),
        (Decimal("999960000"), "$1.0B"),
        (Decimal("1.25e12"), "$1.3T"),
        (Decimal("-1.2e9"), "-$1.2B"),
        (None, ""),
    ],
)
def test_compact_usd(value, expected):
    assert f.compact_usd(value) == expected


def test_signed_and_signed_money():
    assert f.signed(Decimal("1234.5")) == "+1,234.50"
    assert f.signed(Decimal("-0.255")) == "-0.26"
    assert f.signed(Decimal("0")) == "0.00"
    assert f.signed(None) == ""
    assert f.signed_usd(Decimal("-3.5")) == "-$3.50"
    assert f.signed_compact_usd(Decimal("3e9")) == "+$3.0B"
    assert f.signed_compact_usd(Decimal("-4.56e8")) == "-$456.0M"


def test_updown():
    assert f.updown(Decimal("0.01")) == "up"
    assert f.updown(Decimal("-3")) == "down"
    assert f.updown(Decimal("0")) == ""
    assert f.updown(None) == ""


def test_num():
    assert f.num(Decimal("1234567.891"), 2) == "1,234,567.89"
    assert f.num(Decimal("50")) == "50"
    assert f.num(Decimal("23.65"), 1) == "23.7"
    assert f.num(-1500) == "-1,500"
    assert f.num(None) == ""


def test_filters_in_a_template():
    template = Template(
        "{% load market_format %}{{ p|usd }} {{ c|pct }} {{ c|updown }} {{ m|compact_usd }}"
    )
    text = template.render(
        Context({"p": Decimal("10"), "c": Decimal("-2.5"), "m": Decimal("3.4e10")})
    )
    assert text == "$10.00 -2.50% down $34.0B"


@time_machine.travel(dt.datetime(2026, 3, 10, 18, 45, tzinfo=dt.UTC), tick=False)
def test_market_time_is_new_york_time():
    assert f.market_time(dt.datetime(2026, 3, 10, 18, 40, tzinfo=dt.UTC)) == "14:40 ET"
    assert f.market_time(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)) == "Mar 2, 10:00 ET"
    assert f.market_time(dt.datetime(2025, 12, 31, 21, 0, tzinfo=dt.UTC)) == "Dec 31 2025, 16:00 ET"
    assert f.market_time(None) == ""


@pytest.mark.django_db
def test_quote_cells_for_an_instrument_with_a_premarket_quote():
    quote = QuoteFactory(
        instrument=InstrumentFactory(symbol="IREN"),
        price=Decimal("61.20"),
        previous_close=Decimal("60"),
        market_state="pre",
        pre_market_change_percent=Decimal("3.1"),
        source="simulated",
    )
    instrument = Instrument.objects.select_related("quote").get(pk=quote.instrument_id)
    html = render_to_string("market/includes/quote_cells.html", {"instrument": instrument})
    assert html.count("<td") == 5
    assert "$61.20" in html
    assert "+2.00%" in html
    assert "Pre</span> +3.10%" in html
    assert "$6.1B" in html
    assert "sim</span>" in html


@pytest.mark.django_db
def test_quote_cells_without_a_quote_keep_the_columns():
    instrument = Instrument.objects.select_related("quote").get(
        pk=InstrumentFactory(symbol="NEW").pk
    )
    html = render_to_string("market/includes/quote_cells.html", {"instrument": instrument})
    headers = render_to_string("market/includes/quote_headers.html")
    assert html.count("<td") == headers.count("<th") == 5
    assert "No quote yet" in html


def test_quote_cells_accept_a_plain_dict():
    row = {
        "quote": {
            "price": Decimal("5"),
            "change_percent": Decimal("-1"),
            "market_state": "post",
            "post_market_change_percent": Decimal("0.5"),
            "market_cap": Decimal("5e8"),
            "fetched_at": dt.datetime(2026, 1, 5, 21, 0, tzinfo=dt.UTC),
            "source": "yahoo",
        }
    }
    html = render_to_string("market/includes/quote_cells.html", {"instrument": row})
    assert "Post</span> +0.50%" in html
    assert "down" in html
    assert "simulated" not in html
