"""Portfolio pages: recording trades through the form, refusals, edits, the query budget."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from market.models import Instrument
from portfolios.models import Holding, Portfolio, Transaction
from tests.factories import InstrumentFactory, MinerFactory, PortfolioFactory, QuoteFactory

D = Decimal
pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def url(name, *args):
    return reverse(f"portfolios:{name}", args=args)


def trade_form(**overrides):
    data = {
        "symbol": "IREN",
        "kind": "buy",
        "trade_date": "2025-01-10",
        "quantity": "10",
        "price": "20",
        "fee": "1",
        "note": "",
    }
    data.update(overrides)
    return data


def test_create_a_portfolio_with_a_base_currency(user_client, user):
    response = user_client.post(url("portfolio_create"), {"name": "TFSA", "base_currency": "CAD"})
    assert response.status_code == 302
    assert list(user.portfolios.values_list("name", "base_currency")) == [("TFSA", "CAD")]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "base_currency": "USD"}, "This field is required."),
        ({"name": "Main", "base_currency": "XXX"}, "Select a valid choice. XXX is not one of"),
        ({"name": "Main", "base_currency": "USD"}, "You already have a portfolio called “Main”."),
    ],
)
def test_bad_portfolio_input_is_refused(user_client, portfolio, data, message, htmx):
    response = user_client.post(url("portfolio_create"), data, headers=HTMX if htmx else {})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Portfolio.objects.count() == 1


def test_record_a_trade_plain_and_with_htmx(user_client, portfolio, iren):
    response = user_client.post(url("transaction_create", portfolio.pk), trade_form())
    assert response.status_code == 302
    assert response["Location"] == url("portfolio", portfolio.pk)

    response = user_client.post(
        url("transaction_create", portfolio.pk),
        trade_form(kind="sell", quantity="4", price="25"),
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="page-body"')
    assert "Recorded: sell 4 IREN on 2025-01-10." in body
    holding = Holding.objects.get()
    # cost 201 for 10; sell 4 at 25 with a 1 fee: 99 - 80.40 = 18.60
    assert (holding.quantity, holding.cost_basis, holding.realized_pnl) == (
        D("6"),
        D("120.6"),
        D("18.6"),
    )


@time_machine.travel(dt.datetime(2025, 6, 2, 15, 0, tzinfo=dt.UTC), tick=False)
@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"quantity": "0"}, "quantity", "The quantity must be more than zero."),
        ({"quantity": "-3"}, "quantity", "The quantity must be more than zero."),
        ({"price": "0"}, "price", "The price must be more than zero."),
        ({"price": "-20"}, "price", "The price must be more than zero."),
        ({"fee": "-1"}, "fee", "The fee cannot be negative."),
        (
            {"trade_date": "2025-06-03"},
            "trade_date",
            "The trade date cannot be in the future (today is 2025-06-02).",
        ),
        ({"trade_date": "soon"}, "trade_date", "Enter a valid date."),
        ({"quantity": "ten"}, "quantity", "Enter a number."),
        (
            {"symbol": "ZZNOPE"},
            "symbol",
            "The market-data provider does not know the symbol ZZNOPE.",
        ),
        (
            {"kind": "sell", "quantity": "11"},
            "quantity",
            "You held 10 IREN on 2025-01-10; you cannot sell 11.",
        ),
    ],
)
def test_bad_trade_input_shows_the_fields_error_and_writes_nothing(
    user_client, portfolio, iren, trade, overrides, field, message, htmx
):
    trade(iren, "buy", "2025-01-09", 10, "20")
    before = list(Transaction.objects.values_list("pk", flat=True))
    response = user_client.post(
        url("transaction_create", portfolio.pk),
        trade_form(**overrides),
        headers=HTMX if htmx else {},
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert message in text
    assert f'id="id_{field}_error"' in text  # next to its field
    if htmx:
        assert response["HX-Retarget"] == "#transaction-form"
        assert text.lstrip().startswith('<form id="transaction-form"')
    assert list(Transaction.objects.values_list("pk", flat=True)) == before
    assert Holding.objects.get().quantity == D("10")
    assert not Instrument.objects.filter(symbol="ZZNOPE").exists()


def test_a_symbol_new_to_us_is_only_added_when_the_trade_is_valid(user_client, portfolio):
    response = user_client.post(
        url("transaction_create", portfolio.pk), trade_form(symbol="BTDR", quantity="0")
    )
    assert response.status_code == 422
    assert not Instrument.objects.filter(symbol="BTDR").exists()
    response = user_client.post(url("transaction_create", portfolio.pk), trade_form(symbol="BTDR"))
    assert response.status_code == 302
    assert Holding.objects.get().instrument.symbol == "BTDR"


def test_edit_a_trade_and_refuse_an_edit_that_oversells_a_later_sell(
    user_client, portfolio, iren, trade
):
    buy = trade(iren, "buy", "2025-01-10", 10, "20")
    trade(iren, "sell", "2025-02-10", 8, "25")
    edit_url = url("transaction_edit", portfolio.pk, buy.pk)
    assert 'value="10"' in user_client.get(edit_url).content.decode()

    response = user_client.post(edit_url, trade_form(quantity="5"))
    assert response.status_code == 422
    assert (
        "This change would leave your sell of 8 IREN on 2025-02-10 larger than the 5 held then."
        in response.content.decode()
    )
    buy.refresh_from_db()
    assert buy.quantity == D("10")

    response = user_client.post(edit_url, trade_form(quantity="12", price="10", fee="0"))
    assert response.status_code == 302
    holding = Holding.objects.get()
    assert (holding.quantity, holding.average_cost, holding.realized_pnl) == (
        D("4"),
        D("10"),
        D("120"),
    )


def test_delete_a_trade_and_refuse_a_delete_that_oversells(user_client, portfolio, iren, trade):
    first = trade(iren, "buy", "2025-01-10", 10, "20")
    second = trade(iren, "buy", "2025-01-11", 5, "20")
    trade(iren, "sell", "2025-02-10", 12, "25")
    response = user_client.post(url("transaction_delete", portfolio.pk, second.pk))
    assert response.status_code == 422
    assert (
        "Deleting this buy would leave your sell of 12 IREN on 2025-02-10 larger than the 10 "
        "held then." in response.content.decode()
    )
    assert Transaction.objects.count() == 3

    trade(iren, "buy", "2025-01-12", 5, "20")
    response = user_client.post(url("transaction_delete", portfolio.pk, second.pk))
    assert response.status_code == 302
    assert not Transaction.objects.filter(pk=second.pk).exists()
    assert Holding.objects.get().quantity == D("3")  # 10 + 5 - 12
    assert Transaction.objects.filter(pk=first.pk).exists()


def test_split_entries_show_in_the_transactions_list(
    user_client, portfolio, iren, trade, split_event
):
    trade(iren, "buy", "2025-01-06", 1000, "1.20", fee="10")
    split_event(iren, "2025-02-03", "0.1")
    trade(iren, "sell", "2025-03-03", 40, "15.00", fee="6")
    text = user_client.get(url("transactions", portfolio.pk)).content.decode()
    assert "1-for-10 reverse split" in text
    assert "−900" in text


def test_edit_a_portfolio_and_convert_with_an_fx_rate(user_client, portfolio, iren, trade):
    trade(iren, "buy", "2025-01-06", 10, "30")
    response = user_client.post(
        url("portfolio_edit", portfolio.pk), {"name": "Main", "base_currency": "CAD"}
    )
    assert response.status_code == 302
    rate = Instrument.objects.get(symbol="USDCAD=X")
    assert rate.kind == "fx"
    page = user_client.get(url("portfolio", portfolio.pk)).content.decode()
    assert "Waiting for the USD → CAD (USDCAD=X) exchange rate" in page
    # The price is known, the value in CAD is not: a dash, not CA$0.00 or "No price yet".
    assert "CA$0.00" not in page and "No price yet" not in page
    assert '<span class="pf-stat-value" aria-label="Unknown">—</span>' in page
    QuoteFactory(instrument=rate, price=D("1.40"), previous_close=D("1.40"))
    page = user_client.get(url("portfolio", portfolio.pk)).content.decode()
    assert "CA$560.00" in page  # 10 x 40.00 x 1.40 (CLDR writes CA$ in en_US)


def seed_transactions(portfolio, count: int) -> None:
    """`count` trades spread over 5 instruments, written directly (the ledger walk is not under
    test here), then each holding recomputed once."""
    from portfolios.services import recompute_holding

    holdings = []
    for index in range(5):
        instrument = InstrumentFactory()
        MinerFactory(
            instrument=instrument, segment=["pivot", "miner", "ai_hpc", "hardware", "miner"][index]
        )
        QuoteFactory(instrument=instrument)
        holdings.append(Holding.objects.create(portfolio=portfolio, instrument=instrument))
    start = dt.date(2015, 1, 1)
    Transaction.objects.bulk_create(
        Transaction(
            holding=holdings[i % 5],
            portfolio=portfolio,
            kind="buy",
            trade_date=start + dt.timedelta(days=i // 5),
            quantity=D("1"),
            price=D("10"),
        )
        for i in range(count)
    )
    for holding in holdings:
        recompute_holding(holding)


@pytest.mark.parametrize("count", [5, 500])
def test_the_portfolio_page_runs_at_most_8_queries_whatever_the_ledger(
    user_client, user, count, django_assert_num_queries
):
    portfolio = PortfolioFactory(owner=user)
    seed_transactions(portfolio, count)
    user_client.get(url("portfolio", portfolio.pk))  # warm the symbol list cache
    # user, portfolio, holdings with quotes and miners, latest transactions (the session, and
    # the unread count with the user's other rows, come from the cache)
    with django_assert_num_queries(4):
        response = user_client.get(url("portfolio", portfolio.pk))
    assert response.status_code == 200
    assert Transaction.objects.count() == count


def test_the_portfolio_page_with_a_cold_cache_and_an_fx_rate_stays_within_8_queries(
    user_client, user, django_assert_max_num_queries
):
    portfolio = PortfolioFactory(owner=user, base_currency="EUR")
    seed_transactions(portfolio, 50)
    with django_assert_max_num_queries(8):
        user_client.get(url("portfolio", portfolio.pk))


def test_the_positions_partial_is_polled(user_client, portfolio, iren, trade):
    trade(iren, "buy", "2025-01-06", 10, "30")
    page = user_client.get(url("portfolio", portfolio.pk)).content.decode()
    assert f'hx-get="{url("portfolio_positions", portfolio.pk)}" hx-trigger="every 30s"' in page
    live = user_client.get(url("portfolio_positions", portfolio.pk), headers=HTMX).content.decode()
    assert live.lstrip().startswith('<div id="portfolio-live"')
    assert "$400.00" in live and "+$100.00" in live  # value, unrealized (400 - 300)
