"""The streaming CSV writer and the public market exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.http import StreamingHttpResponse

from market.csv_export import csv_cell, csv_lines, export_filename, neutralise
from tests.factories import DailyBarFactory, InstrumentFactory


def read_csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


# The writer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil","x")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\tcmd",
        "\rcmd",
    ],
)
def test_text_a_spreadsheet_would_run_is_quoted(text):
    assert neutralise(text) == "'" + text
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["IREN", "BTC-USD", "Hut 8", "", "a=b", "'quoted"])
def test_ordinary_text_is_left_alone(text):
    assert csv_cell(text) == text


@pytest.mark.parametrize(
    "value, expected",
    [
        (Decimal("-1.50000000"), "-1.5"),
        (Decimal("0.00000001"), "0.00000001"),
        (Decimal("123456789012.12345678"), "123456789012.12345678"),
        (Decimal("1E+2"), "100"),
        (Decimal("0E-8"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("10.00000000"), "10"),
        (-42, "-42"),
        (None, ""),
        (dt.date(2025, 1, 2), "2025-01-02"),
        (dt.datetime(2025, 1, 2, 14, 30, tzinfo=dt.UTC), "2025-01-02T14:30:00+00:00"),
    ],
)
def test_numbers_and_dates_are_written_exactly_and_not_neutralised(value, expected):
    assert csv_cell(value) == expected


def test_chunks_join_into_one_parseable_document():
    rows = [(i, f"name {i}", Decimal(i) / 7) for i in range(20_000)]
    chunks = list(csv_lines(["n", "name", "seventh"], rows))
    assert len(chunks) > 1
    parsed = list(csv.reader(io.StringIO("".join(chunks), newline="")))
    assert parsed[0] == ["n", "name", "seventh"]
    assert len(parsed) == 20_001
    assert Decimal(parsed[-1][2]) == Decimal(19_999) / 7


def test_filename_has_the_object_and_the_date():
    assert (
        export_filename("Long term", "transactions", on=dt.date(2025, 3, 4))
        == "minerwatch-long-term-transactions-2025-03-04.csv"
    )


# Daily history ------------------------------------------------------------------------------------


@pytest.fixture
def iren(db):
    instrument = InstrumentFactory(symbol="IREN", currency="USD")
    for day, close in [(2, "10.123456"), (3, "11"), (6, "9.5"), (7, "12")]:
        DailyBarFactory(
            instrument=instrument,
            date=dt.date(2025, 1, day),
            close=Decimal(close),
            adj_close=Decimal(close),
            open=None,
            volume=123_456_789_012,
            source="simulated",
        )
    return instrument


def test_daily_history_streams_the_range_with_its_source(client, iren):
    response = client.get("/miners/iren/history.csv?start=2025-01-03&end=2025-01-06")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert "minerwatch-iren-daily-2025-01-03-to-2025-01-06-" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == [
        "date",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
        "currency",
        "price_source",
    ]
    assert rows[1:] == [
        ["2025-01-03", "IREN", "", "11", "9", "11", "11", "123456789012", "USD", "simulated"],
        ["2025-01-06", "IREN", "", "11", "9", "9.5", "9.5", "123456789012", "USD", "simulated"],
    ]


def test_daily_history_keeps_every_decimal_place(client, iren):
    rows = read_csv(client.get("/miners/IREN/history.csv?start=2025-01-01&end=2025-01-02"))
    assert rows[1][5] == "10.123456"  # bars keep the 6 places the provider sends


def test_daily_history_defaults_to_the_last_year(client, iren, settings):
    rows = read_csv(client.get("/miners/IREN/history.csv?end=2025-12-31"))
    assert [row[0] for row in rows[1:]] == ["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("start=2025-13-01", "start='2025-13-01' is not a date: use YYYY-MM-DD."),
        ("end=yesterday", "end='yesterday' is not a date: use YYYY-MM-DD."),
        ("start=2025-02-01&end=2025-01-01", "start (2025-02-01) is after end (2025-01-01)."),
    ],
)
def test_daily_history_bad_dates_are_a_400_with_the_reason(client, iren, query, message):
    response = client.get(f"/miners/IREN/history.csv?{query}")
    assert response.status_code == 400
    assert response.content.decode().strip() == message


def test_daily_history_of_an_unknown_symbol_is_404(client, db):
    assert client.get("/miners/NOPE/history.csv").status_code == 404


# The miners table -------------------------------------------------------------------------------


@pytest.fixture
def sector(db):
    """Three miners with quotes: two pivoters and a pure miner, one with a formula-like name."""
    from tests.factories import MinerFactory, QuoteFactory

    made = {}
    for symbol, name, segment, price, previous in [
        ("IREN", "IREN Ltd", "pivot", "40", "38"),
        ("WULF", "=TeraWulf", "pivot", "12.5", "13"),
        ("CLSK", "CleanSpark", "miner", "11.123456789", "11"),
    ]:
        instrument = InstrumentFactory(symbol=symbol, name=name)
        MinerFactory(instrument=instrument, segment=segment, hashrate_eh=Decimal("10.5"))
        made[symbol] = QuoteFactory(
            instrument=instrument,
            price=Decimal(price),
            previous_close=Decimal(previous),
            source="simulated",
            provider_time=dt.datetime(2025, 6, 2, 19, 59, tzinfo=dt.UTC),
        )
    return made


def test_miners_export_follows_the_dashboards_sort_and_filter(client, sector):
    response = client.get("/miners.csv?sort=-day&segment=pivot")
    assert "minerwatch-miners-pivot-" in response["Content-Disposition"]
    rows = read_csv(response)
    header = rows[0]
    assert header[:4] == ["symbol", "name", "segment", "price"]
    assert header[-2:] == ["price_source", "price_as_of"]
    records = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [r["symbol"] for r in records] == ["IREN", "WULF"]  # +5.26 % before -3.85 %
    wulf = records[1]
    assert wulf["name"] == "'=TeraWulf"
    assert wulf["day_change_percent"] == "-3.8462"  # a negative number, not neutralised text
    assert wulf["price_source"] == "simulated"
    assert wulf["price_as_of"] == "2025-06-02T19:59:00+00:00"
    assert wulf["hashrate_eh"] == "10.5"


def test_miners_export_ascending_and_unfiltered(client, sector):
    rows = read_csv(client.get("/miners.csv?sort=price"))
    assert [row[0] for row in rows[1:]] == ["CLSK", "WULF", "IREN"]
    assert rows[1][3] == "11.12345679"  # stored with 8 places, written with all of them


def test_miners_export_ignores_unknown_parameters_like_the_dashboard(client, sector):
    response = client.get("/miners.csv?sort=bogus&segment=nonsense")
    assert "minerwatch-miners-2" in response["Content-Disposition"]
    assert len(read_csv(response)) == 4


def test_text_subclasses_are_text_and_booleans_are_words():
    from market.models import Miner

    assert csv_cell(Miner.Segment.PIVOT) == "pivot"
    assert csv_cell(True) == "true"
    assert csv_cell(0) == "0"


# Links beside the tables ------------------------------------------------------------------------


def test_dashboard_links_its_table_as_csv_with_the_current_sort_and_filter(client, sector):
    page = client.get("/?sort=-day&segment=pivot").content.decode()
    assert 'href="/miners.csv?sort=-day&amp;segment=pivot"' in page
    fragment = client.get(
        "/?sort=price", headers={"HX-Request": "true", "HX-Target": "miners-table"}
    ).content.decode()
    assert "<html" not in fragment
    assert 'href="/miners.csv?sort=price"' in fragment


def test_miner_page_links_the_charted_range_as_csv(client, db):
    instrument = InstrumentFactory(symbol="HUT")
    for day in (dt.date(2026, 1, 29), dt.date(2026, 2, 18), dt.date(2026, 2, 27)):
        DailyBarFactory(instrument=instrument, date=day)
    with time_machine.travel(dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        page = client.get("/miners/HUT/?range=1Y").content.decode()
    assert 'href="/miners/HUT/history.csv?start=2026-01-29"' in page


def test_percent_columns_have_at_most_four_decimals():
    from decimal import Decimal

    from market.csv_export import csv_lines

    text = "".join(
        csv_lines(
            ["symbol", "unrealized_pnl_percent", "price"],
            [("IREN", Decimal(1200) / Decimal(1800) * 100, Decimal("57.123456")), ("X", None, 1)],
        )
    )
    assert text == ("symbol,unrealized_pnl_percent,price\r\nIREN,66.6667,57.123456\r\nX,,1\r\n")
