"""Reading transactions from CSV: the file parser (no database) and the import pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portfolios.csv_import import (
    ImportRefused,
    detect_delimiter,
    parse_date,
    parse_decimal,
    parse_transactions_csv,
)

OWN_EXPORT = (
    "date,symbol,currency,type,quantity,price,fee,note,price_source\r\n"
    "2025-01-02,IREN,USD,buy,10,7.5,1,'=first,trade\r\n"
    "2025-03-04,IREN,USD,sell,4,12.25,0.5,,trade\r\n"
)

GHOSTFOLIO = (
    "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n"
    "01-09-2021,IREN,YAHOO,USD,12.5,10,buy,1.99,\n"
    "16-09-2021,IREN,YAHOO,USD,0.5,10,dividend,0,\n"
    "17-09-2021,IREN,YAHOO,USD,13.5,3,SELL,0.99,partial\n"
)


def parse(text: str, **kwargs):
    return parse_transactions_csv(text.encode("utf-8"), **kwargs)


# Dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-31",
        "31-01-2025",
        "31/01/2025",
        "31.01.2025",
        "20250131",
        "2025-01-31T00:00:00.000Z",
    ],
)
def test_every_accepted_date_format_reads_the_same_day(text):
    assert parse_date(text) == dt.date(2025, 1, 31)


@pytest.mark.parametrize("text", ["31-01-25", "31/01/25", "31.01.25", "25-01-31", "250131"])
def test_two_digit_years_are_refused_as_ambiguous(text):
    with pytest.raises(ValueError, match="two-digit year"):
        parse_date(text)


@pytest.mark.parametrize("text", ["2025-02-30", "31/13/2025"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(ValueError, match="not a real date"):
        parse_date(text)


def test_a_us_style_date_with_month_above_12_is_not_guessed():
    # dd/MM/yyyy only: 01/31/2025 would be month 31.
    with pytest.raises(ValueError, match="not a real date"):
        parse_date("01/31/2025")


def test_words_are_not_dates():
    with pytest.raises(ValueError, match="not a date in a format we read"):
        parse_date("Jan 31 2025")


# Numbers ------------------------------------------------------------------------------------------


def test_decimals_are_exact():
    assert parse_decimal("0.12345678") == Decimal("0.12345678")
    assert str(parse_decimal("1234567.1")) == "1234567.1"


def test_decimal_comma_only_in_semicolon_files():
    assert parse_decimal("12,5", decimal_comma=True) == Decimal("12.5")
    with pytest.raises(ValueError, match="use . as the decimal point"):
        parse_decimal("12,5")
    with pytest.raises(ValueError, match="mixes separators"):
        parse_decimal("1.234,5", decimal_comma=True)


@pytest.mark.parametrize(
    "text, message",
    [
        ("abc", "not a number"),
        ("NaN", "not a number"),
        ("Infinity", "not a number"),
        ("0.123456789", "more than 8 decimal places"),
        ("1e15", "too large"),
    ],
)
def test_bad_numbers_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        parse_decimal(text)


# Delimiters, encodings, headers -----------------------------------------------------------------


def test_delimiter_is_detected_outside_quotes():
    assert detect_delimiter("Date;Code;Price") == ";"
    assert detect_delimiter('"a,b";c;d') == ";"
    assert detect_delimiter("date\tsymbol") == "\t"
    assert detect_delimiter("date,symbol") == ","
    assert detect_delimiter("just words") is None


def test_our_own_export_reads_back_with_the_formula_quote_removed():
    parsed = parse(OWN_EXPORT)
    assert parsed.problems == []
    assert [(t.line, t.symbol, t.kind, t.quantity, t.price, t.fee) for t in parsed.trades] == [
        (2, "IREN", "buy", Decimal("10"), Decimal("7.5"), Decimal("1")),
        (3, "IREN", "sell", Decimal("4"), Decimal("12.25"), Decimal("0.5")),
    ]
    assert parsed.trades[0].note == "=first"
    assert parsed.trades[0].currency == "USD"
    assert parsed.ignored_columns == ["price_source"]


def test_ghostfolio_activities_read_with_skipped_dividend():
    parsed = parse(GHOSTFOLIO)
    assert parsed.problems == []
    assert [(t.line, t.kind, t.trade_date) for t in parsed.trades] == [
        (2, "buy", dt.date(2021, 9, 1)),
        (4, "sell", dt.date(2021, 9, 17)),
    ]
    assert [(s.line, s.kind, s.symbol) for s in parsed.skipped] == [(3, "dividend", "IREN")]
    assert "not tracked" in parsed.skipped[0].reason
    assert parsed.columns["symbol"] == "Code"
    assert parsed.ignored_columns == ["DataSource"]


@pytest.mark.parametrize(
    "header",
    [
        "TradeDate,Ticker,Ccy,UnitPrice,Qty,Type,Commission,Comment",
        "tradedate,symbol,currency,tradeprice,shares,ACTION,fee,note",
        "DATE,CODE,CURRENCY,PRICE,UNITS,Action,COMMISSION,NOTE",
        "Trade Date,Symbol,Currency,Unit Price,Quantity,Type,Fee,Note",
    ],
)
def test_header_aliases_in_any_case(header):
    parsed = parse(f"{header}\n2025-01-02,WULF,USD,5,3,Buy,0,hello\n")
    assert parsed.problems == []
    (trade,) = parsed.trades
    assert (trade.symbol, trade.kind, trade.price, trade.quantity, trade.note) == (
        "WULF",
        "buy",
        Decimal("5"),
        Decimal("3"),
        "hello",
    )


def test_semicolons_bom_and_decimal_commas():
    content = "\ufeffDatum;Code;Price;Quantity;Action;Fee\r\n".replace("Datum", "Date")
    content += "31.01.2025;CIFR;4,25;100;Buy;1,5\r\n"
    parsed = parse_transactions_csv(content.encode("utf-8"))
    assert parsed.delimiter == ";"
    (trade,) = parsed.trades
    assert (trade.trade_date, trade.price, trade.fee) == (
        dt.date(2025, 1, 31),
        Decimal("4.25"),
        Decimal("1.5"),
    )


def test_every_bad_cell_is_reported_with_line_and_column():
    content = (
        "Date,Code,Price,Quantity,Action,Fee,Currency\n"
        "2025-01-02,IREN,10,5,buy,0,USD\n"
        "02/01/25,IREN,ten,-5,buy,-1,US\n"
        "\n"
        "2025-01-03,,10,5,hold,0,\n"
    )
    parsed = parse(content)
    assert [t.line for t in parsed.trades] == [2]
    assert {(p.line, p.column) for p in parsed.problems} == {
        (3, "Date"),
        (3, "Price"),
        (3, "Quantity"),
        (3, "Fee"),
        (3, "Currency"),
        (5, "Code"),
        (5, "Action"),
    }
    messages = {(p.line, p.column): p.message for p in parsed.problems}
    assert "two-digit year" in messages[(3, "Date")]
    assert "greater than zero" in messages[(3, "Quantity")]
    assert "'hold' is not buy or sell" in messages[(5, "Action")]


def test_line_numbers_count_physical_lines_of_quoted_multiline_notes():
    content = (
        "date,symbol,type,quantity,price,note\n"
        '2025-01-02,IREN,buy,1,10,"two\nlines"\n'
        "2025-01-03,IREN,buy,0,10,\n"
    )
    parsed = parse(content)
    assert parsed.trades[0].note == "two\nlines"
    assert [(p.line, p.column) for p in parsed.problems] == [(4, "quantity")]


def test_extra_cells_beyond_the_header_are_a_problem():
    parsed = parse("date,symbol,type,quantity,price\n2025-01-02,IREN,buy,1,10,oops\n")
    assert parsed.trades == []
    assert parsed.problems[0].line == 2
    assert "6 cells" in parsed.problems[0].message


# Whole-file refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00rest of a workbook", "Excel workbook"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"date,symbol\x00,type", "binary data"),
        (
            "date,symbol,type,quantity,price\n2025-01-02,SOLNH,buy,1,10,Zürich\n".encode("utf-16"),
            "UTF-16",
        ),
        (
            "date,symbol,type,quantity,price,note\n2025-01-02,IREN,buy,1,10,Zürich\n".encode(
                "cp1252"
            ),
            "not UTF-8",
        ),
        (b"Dear broker: please find my trades attached.\nRegards", "does not look like a CSV"),
        (b"2025-01-02,IREN,buy,1,10\n2025-01-03,IREN,buy,1,10\n", "no header row"),
        (b"when,what,how many\n2025-01-02,IREN,1\n", "none of the columns"),
        (
            b"Date,Code,Quantity,Action\n2025-01-02,IREN,1,buy\n",
            r"Missing required column\(s\): Price \(also read as: UnitPrice, TradePrice\)",
        ),
        (b"date,symbol,type,quantity,price\n", "no rows"),
        (b'date,symbol,type,quantity,price\n2025-01-02,"IREN,buy,1,10\n', "not a well-formed CSV"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_a_clear_message(content, message):
    with pytest.raises(ImportRefused, match=message):
        parse_transactions_csv(content)


def test_missing_column_message_names_its_aliases():
    with pytest.raises(ImportRefused) as refused:
        parse("Date,Code,Price,Action\n2025-01-02,IREN,1,buy\n")
    assert "Quantity (also read as: Qty, Shares, Units)" in str(refused.value)


def test_a_file_over_the_limit_is_refused_before_reading():
    content = OWN_EXPORT.encode() * 10
    with pytest.raises(ImportRefused, match=r"the limit is 100 bytes"):
        parse_transactions_csv(content, max_bytes=100)
    assert parse_transactions_csv(OWN_EXPORT.encode(), max_bytes=len(OWN_EXPORT)).trades


def test_the_same_bytes_hash_the_same():
    assert parse(OWN_EXPORT).sha256 == parse(OWN_EXPORT).sha256
    assert parse(OWN_EXPORT).sha256 != parse(OWN_EXPORT + "\n").sha256
