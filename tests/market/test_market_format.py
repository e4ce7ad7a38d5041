"""The formatting filters and the shared quote cells used by every table of quotes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.template import Context, Template
from django.template.loader import render_to_string

from market import formatting
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
        (12000, "$12K"),  # CLDR's compact form writes no trailing zero
        (Decimal("320.46e9"), "$320.5B"),
        (Decimal("950.4"), "$950"),
        (Decimal("999960000"), "$1B"),  # rounds up into the next unit
        (Decimal("1.25e12"), "$1.3T"),  # half-up, as everywhere
        (Decimal("-0.4"), "$0"),
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
    assert f.signed_compact_usd(Decimal("3e9")) == "+$3B"
    assert f.signed_compact_usd(Decimal("-4.56e8")) == "-$456M"
    assert f.signed_compact_usd(Decimal("0")) == "$0"


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
    assert text == "$10.00 -2.50% down $34B"


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


# -- Babel: every currency in its own minor units, in settings.NUMBER_LOCALE ----------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("1234.5"), "JPY", "¥1,235"),  # no minor unit; half-up
        (Decimal("-1234.4"), "JPY", "-¥1,234"),
        (Decimal("1234.5"), "KWD", "KWD 1,234.500"),  # three decimals (fils)
        (Decimal("-0.0004"), "KWD", "KWD 0.000"),
        (Decimal("1234.565"), "EUR", "€1,234.57"),
        (Decimal("-12.3"), "CAD", "-CA$12.30"),
        (Decimal("5"), "SEK", "SEK 5.00"),
        (Decimal("5"), "cad", "CA$5.00"),
        (Decimal("5"), "", "$5.00"),
        (None, "JPY", ""),
    ],
)
def test_money_uses_each_currencys_minor_units(value, currency, expected):
    assert Template("{% load market_format %}{{ v|money:c }}").render(
        Context({"v": value, "c": currency})
    ) == expected.replace("KWD ", "KWD\xa0").replace("SEK ", "SEK\xa0")


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("320.5e9"), "USD", "$320.5B"),
        (Decimal("-2.04e9"), "USD", "-$2B"),
        (Decimal("1.5e9"), "EUR", "€1.5B"),
        (Decimal("7.25e6"), "CAD", "CA$7.3M"),
        (Decimal("980e9"), "JPY", "¥980B"),
        (Decimal("2.5e6"), "KWD", "KWD\xa02.5M"),
    ],
)
def test_compact_money(value, currency, expected):
    assert formatting.compact_money(value, currency) == expected


def test_signed_money_and_unit_prices():
    assert formatting.signed_money(Decimal("1234.5"), "EUR") == "+€1,234.50"
    assert formatting.signed_money(Decimal("-1234.5"), "JPY") == "-¥1,235"
    assert formatting.signed_money(Decimal("-0.001"), "USD") == "$0.00"
    assert formatting.unit_price(Decimal("0.123456"), "USD") == "$0.1235"
    assert formatting.unit_price(Decimal("0.5"), "JPY") == "¥0.5000"
    assert formatting.unit_price(Decimal("12.3456"), "KWD") == "KWD\xa012.346"
    assert formatting.unit_price(Decimal("1500.5"), "JPY") == "¥1,501"


def test_percentages():
    assert formatting.percent(Decimal("12.345")) == "+12.35%"
    assert formatting.percent(Decimal("-0.005")) == "-0.01%"
    assert formatting.percent(Decimal("42.45"), 1, plus=False) == "42.5%"
    assert formatting.percent("abc") == ""
    assert f.pct(Decimal("512.34"), 1) == "+512.3%"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "$1,234.50 +1.25% 1,234,567.9 €3.5B"),
        ("de_DE", "1.234,50\xa0$ +1,25\xa0% 1.234.567,9 3,5\xa0Mrd.\xa0€"),
        ("en_GB", "US$1,234.50 +1.25% 1,234,567.9 €3.5bn"),
    ],
)
def test_the_number_locale_is_a_setting(settings, locale, expected):
    settings.NUMBER_LOCALE = locale
    text = Template(
        "{% load market_format %}{{ p|usd }} {{ c|pct }} {{ n|num:1 }} {{ m|compact_money:'EUR' }}"
    ).render(
        Context(
            {
                "p": Decimal("1234.5"),
                "c": Decimal("1.25"),
                "n": Decimal("1234567.89"),
                "m": Decimal("3.5e9"),
            }
        )
    )
    assert text == expected


def test_portfolio_money_filters_share_the_formatting():
    text = Template(
        "{% load portfolio_format %}{{ a|money:'JPY' }} {{ a|signed_money:'KWD' }} "
        "{{ w|weight }} {{ p|unit_price:'EUR' }}"
    ).render(Context({"a": Decimal("1234.5678"), "w": Decimal("42.46"), "p": Decimal("0.98765")}))
    assert text == "¥1,235 +KWD\xa01,234.568 42.5% €0.9877"


def test_a_miner_row_escapes_text_and_formats_its_numbers():
    from types import SimpleNamespace

    from market.analytics import Lean, PriceRange, TradesLike

    row = SimpleNamespace(
        url="/miners/X&Y/",
        symbol="X&Y",
        name='Mine <b>"Co"</b>',
        segment="pivot",
        segment_label="Pivot <AI>",
        segment_short_label="Pivot",
        quote={
            "price": Decimal("12.5"),
            "change_percent": Decimal("-1.234"),
            "market_state": "regular",
            "market_cap": Decimal("320.46e9"),
        },
        ytd_percent=Decimal("150.25"),
        range_52w=PriceRange(low=Decimal("4"), high=Decimal("20")),
        price=Decimal("12.5"),
        range_position=Decimal("53.1"),
        hashrate_eh=Decimal("50.25"),
        hpc_contracted_mw=Decimal("1400"),
        ev_per_eh=Decimal("240e6"),
        trades_like=TradesLike(Lean.AI, 0.21, 0.734),
    )
    html = Template("{% load market_tables %}{% miner_row row %}").render(Context({"row": row}))
    assert html == (
        '<tr><th scope="row"><a href="/miners/X&amp;Y/">X&amp;Y</a></th>'
        '<td class="name">Mine &lt;b&gt;&quot;Co&quot;&lt;/b&gt;</td>'
        '<td><span class="seg-tag seg-pivot" title="Pivot &lt;AI&gt;">Pivot</span></td>'
        '<td class="num" data-live="X&amp;Y price">$12.50</td>'
        '<td class="num down" data-live="X&amp;Y day">-1.23%</td>'
        '<td class="num" data-live="X&amp;Y ext"></td>'
        '<td class="num" data-live="X&amp;Y cap">$320.5B</td>'
        '<td class="num up">+150.3%</td>'
        '<td class="range"><span class="lo">$4.00</span>'
        '<meter min="4" max="20" value="12.5" aria-label="Price within the 52-week range">53%'
        '</meter><span class="hi">$20.00</span></td>'
        '<td class="num">50.3</td><td class="num">1,400</td><td class="num">$240M</td>'
        '<td><span class="lean lean-ai" title="trades more like AI infrastructure: '
        'correlation 0.21 with Bitcoin, 0.73 with AI">AI</span></td></tr>\n'
    )
