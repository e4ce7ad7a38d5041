"""Reading transactions from CSV: the file parser (no database) and the import pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from market.models import Instrument
from portfolios.csv_import import (
    ImportRefused,
    confirm_import,
    detect_delimiter,
    parse_date,
    parse_decimal,
    parse_transactions_csv,
    preview_import,
)
from portfolios.models import Holding, Transaction
from portfolios.services.transactions import TradeInput, record_transactions
from tests.factories import InstrumentFactory, PortfolioFactory, UserFactory

D = Decimal

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
    assert parsed.columns["price_source"] == "price_source"
    assert parsed.ignored_columns == []


def test_ghostfolio_activities_read_with_their_dividend():
    parsed = parse(GHOSTFOLIO)
    assert parsed.problems == []
    assert [(t.line, t.kind, t.trade_date, t.quantity, t.price) for t in parsed.trades] == [
        (2, "buy", dt.date(2021, 9, 1), D("10"), D("12.5")),
        (3, "dividend", dt.date(2021, 9, 16), D("10"), D("0.5")),
        (4, "sell", dt.date(2021, 9, 17), D("3"), D("13.5")),
    ]
    assert parsed.skipped == []
    assert parsed.columns["symbol"] == "Code"
    assert parsed.columns["data_source"] == "DataSource"
    assert parsed.ignored_columns == []


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
        (3, "Currency"),
        (5, "Code"),
        (5, "Action"),
    }
    messages = {(p.line, p.column): p.message for p in parsed.problems}
    assert "two-digit year" in messages[(3, "Date")]
    assert "greater than zero" in messages[(3, "Quantity")]
    assert messages[(5, "Action")] == (
        "'hold' is not a type we read (buy, sell, dividend, deposit, withdrawal, interest or fee)"
    )


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


# Importing into a portfolio: preview, confirm, refusals ------------------------------------------


@pytest.fixture
def wulf(db):
    return InstrumentFactory(symbol="WULF", name="TeraWulf")


@pytest.fixture
def cifr(db):
    return InstrumentFactory(symbol="CIFR", name="Cipher Mining")


@pytest.fixture
def target(user, wulf, cifr):
    return PortfolioFactory(owner=user, name="Imports")


def upload(client, portfolio, content, *, name="trades.csv", htmx=False):
    if isinstance(content, str):
        content = content.encode("utf-8")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/portfolios/{portfolio.pk}/import/",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        headers=headers,
    )


def confirm(client, portfolio, response, **overrides):
    data = {"sha256": response.context["sha256"]}
    data.update(overrides)
    return client.post(f"/portfolios/{portfolio.pk}/import/confirm/", data)


def ledger_rows():
    return list(
        Transaction.objects.order_by("id").values_list(
            "holding__portfolio_id", "holding__instrument__symbol", "kind", "quantity"
        )
    )


def holding(portfolio, symbol):
    return Holding.objects.get(portfolio=portfolio, instrument__symbol=symbol)


GOOD_FILE = (
    "Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n"
    "02-01-2025,WULF,YAHOO,USD,5.5,100,buy,1,first\n"
    "03-01-2025,CIFR,YAHOO,USD,4.25,40,BUY,0,\n"
    "10-01-2025,house-on-oak-street,MANUAL,USD,400000,1,item,0,\n"
    "15-01-2025,WULF,YAHOO,USD,7,30,Sell,0.5,trim\n"
)


def test_upload_page_shows_the_form(user_client, target):
    response = user_client.get(f"/portfolios/{target.pk}/import/")
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b'hx-post="/portfolios/%d/import/"' % target.pk in response.content


def test_preview_lists_what_will_be_written_and_writes_nothing(user_client, target):
    response = upload(user_client, target, GOOD_FILE)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert [(t.line, t.symbol, t.kind) for t, _ in preview.to_write] == [
        (2, "WULF", "buy"),
        (3, "CIFR", "buy"),
        (5, "WULF", "sell"),
    ]
    assert [(s.line, s.kind) for s in preview.skipped] == [(4, "item")]
    page = response.content.decode()
    assert "Import 3 transactions" in page
    assert "To write: 2 buys, 1 sell." in page
    assert "1 row skipped" in page
    assert "valuables (items) are not tracked" in page
    assert ledger_rows() == []


def test_confirm_writes_every_row_in_one_go_and_redirects(user_client, target):
    preview = upload(user_client, target, GOOD_FILE)
    response = confirm(user_client, target, preview)
    assert response.status_code == 302
    assert response["Location"] == f"/portfolios/{target.pk}/"
    wulf = holding(target, "WULF")
    assert (wulf.quantity, wulf.cost_basis) == (D("70"), D("385.7"))  # (550 + 1) x 70/100
    assert holding(target, "CIFR").quantity == D("40")
    assert len(ledger_rows()) == 3
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Imported 3 transactions: 2 buys, 1 sell (1 row skipped)."]


def test_htmx_upload_returns_only_the_panel_and_confirm_redirects_the_page(user_client, target):
    response = upload(user_client, target, GOOD_FILE, htmx=True)
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b"Import 3 transactions" in response.content
    data = {"sha256": response.context["sha256"]}
    done = user_client.post(
        f"/portfolios/{target.pk}/import/confirm/", data, headers={"HX-Request": "true"}
    )
    assert done["HX-Redirect"] == f"/portfolios/{target.pk}/"
    assert len(ledger_rows()) == 3


def test_importing_the_same_file_twice_does_not_double_the_holdings(user_client, target):
    confirm(user_client, target, upload(user_client, target, GOOD_FILE))
    again = upload(user_client, target, GOOD_FILE)
    assert again.status_code == 422
    assert again.context["preview"].already_imported
    assert "it looks like this file was imported before" in again.content.decode()
    assert b"Import 3" not in again.content
    assert holding(target, "WULF").quantity == D("70")
    assert len(ledger_rows()) == 3


def test_an_overlapping_file_imports_only_the_new_trades(user_client, target):
    confirm(user_client, target, upload(user_client, target, GOOD_FILE))
    longer = GOOD_FILE + "20-01-2025,CIFR,YAHOO,USD,5,10,buy,0,\n"
    response = upload(user_client, target, longer)
    preview = response.context["preview"]
    assert [t.line for t, _ in preview.to_write] == [6]
    assert [t.line for t in preview.duplicates] == [2, 3, 5]
    confirm(user_client, target, response)
    assert holding(target, "CIFR").quantity == D("50")
    assert holding(target, "WULF").quantity == D("70")


def test_two_identical_fills_in_one_file_both_count(user_client, target):
    content = "date,symbol,type,quantity,price\n2025-01-02,WULF,buy,5,5\n2025-01-02,WULF,buy,5,5\n"
    confirm(user_client, target, upload(user_client, target, content))
    assert holding(target, "WULF").quantity == D("10")


def test_confirming_twice_writes_once(user_client, target):
    preview = upload(user_client, target, GOOD_FILE)
    assert confirm(user_client, target, preview).status_code == 302
    second = confirm(user_client, target, preview)
    assert second.status_code == 422
    assert "was already imported" in second.content.decode()
    assert len(ledger_rows()) == 3


def test_cancel_forgets_the_upload(user_client, target):
    preview = upload(user_client, target, GOOD_FILE)
    response = user_client.post(
        f"/portfolios/{target.pk}/import/cancel/", {"sha256": preview.context["sha256"]}
    )
    assert response.status_code == 302
    assert confirm(user_client, target, preview).status_code == 422
    assert ledger_rows() == []


# A test per refusal, each checking that nothing was written.


@pytest.fixture
def existing_trade(target, wulf):
    record_transactions(
        portfolio=target,
        trades=[TradeInput("buy", dt.date(2024, 12, 2), D("10"), D("5"), instrument=wulf)],
    )
    return ledger_rows()


def assert_refused(response, message, before):
    assert response.status_code == 422
    assert message in response.content.decode()
    assert ledger_rows() == before
    assert "Import " not in response.content.decode().split("Import transactions into")[-1]


def test_refused_a_file_over_the_size_limit(user_client, target, existing_trade, settings):
    settings.CSV_IMPORT_MAX_BYTES = 100
    response = upload(user_client, target, GOOD_FILE)
    assert_refused(response, "larger than the limit of 100 bytes", existing_trade)


def test_a_file_at_the_size_limit_is_read(user_client, target, settings):
    settings.CSV_IMPORT_MAX_BYTES = len(GOOD_FILE.encode())
    assert upload(user_client, target, GOOD_FILE).status_code == 200


def test_the_upload_still_needs_its_csrf_token(client, user, target):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(user)
    response = upload(client, target, GOOD_FILE)
    assert response.status_code == 403


def test_refused_a_file_that_is_not_csv(user_client, target, existing_trade):
    response = upload(user_client, target, b"PK\x03\x04\x14\x00workbook", name="trades.xlsx")
    assert_refused(response, "it looks like a ZIP archive or an Excel workbook", existing_trade)


def test_refused_a_file_in_another_encoding(user_client, target, existing_trade):
    content = "Date,Code,Price,Quantity,Action,Note\n02-01-2025,WULF,5,1,buy,Société\n"
    response = upload(user_client, target, content.encode("latin-1"))
    assert_refused(response, "is not UTF-8 text", existing_trade)


def test_refused_a_file_without_a_header(user_client, target, existing_trade):
    response = upload(user_client, target, "2025-01-02,WULF,buy,1,5\n")
    assert_refused(response, "has no header row", existing_trade)


def test_refused_a_file_missing_a_required_column(user_client, target, existing_trade):
    response = upload(user_client, target, "date,symbol,type,price\n2025-01-02,WULF,buy,5\n")
    assert_refused(response, "Missing required column(s): Quantity", existing_trade)


def test_refused_an_unknown_symbol_and_offers_to_add_it(user_client, target, existing_trade):
    content = "date,symbol,type,quantity,price\n2025-01-02,WULF,buy,1,5\n2025-01-03,NEWCO,buy,1,5\n"
    response = upload(user_client, target, content)
    assert_refused(response, "NEWCO is not an instrument we follow yet", existing_trade)
    problems = response.context["preview"].problems
    assert [(p.line, p.column) for p in problems] == [(3, "symbol")]
    page = response.content.decode()
    assert f'action="/portfolios/{target.pk}/import/add-symbols/"' in page
    assert '<input type="hidden" name="symbol" value="NEWCO">' in page


def test_adding_the_unknown_symbol_then_confirming(user_client, target, existing_trade, settings):
    settings.MARKET_DATA_PROVIDER = "simulated"
    content = "date,symbol,type,quantity,price\n2025-01-03,NEWCO,buy,1,5\n"
    response = upload(user_client, target, content)
    added = user_client.post(
        f"/portfolios/{target.pk}/import/add-symbols/",
        {"sha256": response.context["sha256"], "symbol": ["NEWCO"]},
    )
    assert added.status_code == 200
    assert Instrument.objects.filter(symbol="NEWCO").exists()
    assert ledger_rows() == existing_trade
    assert confirm(user_client, target, added).status_code == 302
    assert holding(target, "NEWCO").quantity == D("1")


def test_only_symbols_of_the_pending_file_are_added(user_client, target, settings):
    settings.MARKET_DATA_PROVIDER = "simulated"
    content = "date,symbol,type,quantity,price\n2025-01-03,NEWCO,buy,1,5\n"
    response = upload(user_client, target, content)
    user_client.post(
        f"/portfolios/{target.pk}/import/add-symbols/",
        {"sha256": response.context["sha256"], "symbol": ["NEWCO", "OTHER"]},
    )
    assert Instrument.objects.filter(symbol="NEWCO").exists()
    assert not Instrument.objects.filter(symbol="OTHER").exists()


def test_a_symbol_the_provider_does_not_know_stays_refused(
    user_client, target, existing_trade, settings
):
    settings.MARKET_DATA_PROVIDER = "simulated"  # it knows every symbol but those starting ZZ
    content = "date,symbol,type,quantity,price\n2025-01-03,ZZNOPE,buy,1,5\n"
    response = upload(user_client, target, content)
    added = user_client.post(
        f"/portfolios/{target.pk}/import/add-symbols/",
        {"sha256": response.context["sha256"], "symbol": ["ZZNOPE"]},
    )
    assert_refused(added, "does not know the symbol ZZNOPE", existing_trade)
    assert not Instrument.objects.filter(symbol="ZZNOPE").exists()


def test_refused_a_sell_that_oversells(user_client, target, existing_trade):
    content = (
        "date,symbol,type,quantity,price\n"
        "2025-01-02,WULF,sell,4,6\n"
        "2025-01-03,WULF,sell,7,6\n"  # 10 held, 4 sold: 6 left
        "2025-01-04,CIFR,buy,1,5\n"
    )
    response = upload(user_client, target, content)
    assert_refused(response, "You held 6 WULF on 2025-01-03; you cannot sell 7.", existing_trade)
    problems = response.context["preview"].problems
    assert [(p.line, p.column) for p in problems] == [(3, "quantity")]
    assert holding(target, "WULF").quantity == D("10")
    assert not Holding.objects.filter(portfolio=target, instrument__symbol="CIFR").exists()


def test_refused_rows_with_bad_cells_listing_line_and_column(user_client, target, existing_trade):
    content = (
        "Date,Code,Price,Quantity,Action\n"
        "02-01-25,WULF,5,1,buy\n"
        "2099-01-01,WULF,5,1,buy\n"
        "2025-01-02,WULF,5,0,buy\n"
    )
    response = upload(user_client, target, content)
    assert_refused(response, "two-digit year", existing_trade)
    problems = response.context["preview"].problems
    assert [(p.line, p.column) for p in problems] == [
        (2, "Date"),
        (3, "Date"),
        (4, "Quantity"),
    ]
    assert "cannot be in the future" in problems[1].message
    page = response.content.decode()
    assert "3 problems: nothing will be imported until they are fixed" in page


def test_refused_a_currency_that_is_not_the_instruments(user_client, target, existing_trade):
    content = "date,symbol,type,quantity,price,currency\n2025-01-02,WULF,buy,1,5,CAD\n"
    response = upload(user_client, target, content)
    assert_refused(response, "WULF trades in USD, not CAD", existing_trade)


def test_confirm_rechecks_the_ledger_and_writes_nothing_when_it_changed(
    user_client, target, existing_trade
):
    content = "date,symbol,type,quantity,price\n2025-01-02,WULF,sell,8,6\n"
    preview = upload(user_client, target, content)
    assert preview.status_code == 200
    # Meanwhile another tab sells most of the holding.
    wulf = Instrument.objects.get(symbol="WULF")
    record_transactions(
        portfolio=target,
        trades=[TradeInput("sell", dt.date(2024, 12, 20), D("5"), D("6"), instrument=wulf)],
    )
    before = ledger_rows()
    response = confirm(user_client, target, preview)
    assert_refused(response, "You held 5 WULF on 2025-01-02; you cannot sell 8.", before)
    assert holding(target, "WULF").quantity == D("5")


def test_confirm_refuses_a_hash_that_does_not_match_the_preview(user_client, target):
    preview = upload(user_client, target, GOOD_FILE)
    response = confirm(user_client, target, preview, sha256="0" * 64)
    assert_refused(response, "another file was uploaded since its preview", [])


def test_a_newer_upload_replaces_the_pending_one(user_client, target):
    older = upload(user_client, target, GOOD_FILE)
    newer = upload(
        user_client, target, "date,symbol,type,quantity,price\n2025-01-02,CIFR,buy,2,4\n"
    )
    assert_refused(confirm(user_client, target, older), "another file was uploaded", [])
    assert confirm(user_client, target, newer).status_code == 302
    assert holding(target, "CIFR").quantity == D("2")
    assert not Holding.objects.filter(portfolio=target, instrument__symbol="WULF").exists()


def test_confirm_import_refuses_content_that_is_not_the_previewed_file(target):
    content = GOOD_FILE.encode()
    sha256 = preview_import(portfolio=target, content=content).parsed.sha256
    with pytest.raises(ImportRefused, match="changed since its preview"):
        confirm_import(portfolio=target, content=content + b"\n", sha256=sha256)
    assert ledger_rows() == []


def test_another_users_pending_upload_cannot_be_confirmed(client, user_client, target):
    preview = upload(user_client, target, GOOD_FILE)
    intruder = UserFactory()
    own = PortfolioFactory(owner=intruder)
    client.force_login(intruder)
    response = client.post(
        f"/portfolios/{own.pk}/import/confirm/",
        {"sha256": preview.context["sha256"]},
    )
    assert_refused(response, "expired", [])


# Privacy of the import URLs.

IMPORT_URLS = [
    ("get", "/portfolios/{pk}/import/"),
    ("post", "/portfolios/{pk}/import/"),
    ("post", "/portfolios/{pk}/import/confirm/"),
    ("post", "/portfolios/{pk}/import/cancel/"),
    ("post", "/portfolios/{pk}/import/add-symbols/"),
]


@pytest.mark.parametrize("method, url", IMPORT_URLS)
def test_another_users_import_urls_are_404(user_client, method, url, db):
    stranger = PortfolioFactory()
    response = getattr(user_client, method)(url.format(pk=stranger.pk))
    assert response.status_code == 404


@pytest.mark.parametrize("method, url", IMPORT_URLS)
def test_anonymous_visitors_are_sent_to_sign_in_from_import_urls(client, method, url, db):
    portfolio = PortfolioFactory()
    response = getattr(client, method)(url.format(pk=portfolio.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
