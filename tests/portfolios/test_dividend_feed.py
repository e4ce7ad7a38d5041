"""Dividends reach the ledgers on their own: from a bars run (Yahoo's recorded AAPL history), from
the admin, converted when paid in another currency, and on the shares of their ex-date."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.urls import reverse

from market import services as market_services
from market.models import DailyBar, Dividend, Instrument, SplitEvent
from market.providers.yahoo import YahooProvider
from market.signals import dividends_recorded
from portfolios.models import Holding, Transaction
from tests.factories import InstrumentFactory, PortfolioFactory
from tests.market.fake_provider import FakeProvider
from tests.market.yahoo_transport import YahooTransport, recorded_yfinance, session_for

D = Decimal
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]

EX_DATE = dt.date(2020, 11, 6)  # AAPL's 0.205 in the recorded chart (after its 4-for-1 of 31 Aug)
AFTER_THE_RECORDING = dt.datetime(2020, 11, 9, tzinfo=dt.UTC)


@pytest.fixture
def yahoo(yfinance_cache_directory):
    with recorded_yfinance():
        transport = YahooTransport()
        yield YahooProvider(session=session_for(transport))
        assert transport.unrouted == []


@pytest.fixture
def sent():
    """The dividend_ids of every dividends_recorded signal."""
    received: list[list[int]] = []

    def on_dividends(sender, dividend_ids, **kwargs):
        received.append(dividend_ids)

    dividends_recorded.connect(on_dividends)
    yield received
    dividends_recorded.disconnect(on_dividends)


@pytest.fixture
def aapl(db):
    """AAPL with the 4-for-1 split of the recorded chart already stored (by an earlier run), so
    that the runs of these tests bring one new event only: the dividend."""
    instrument = InstrumentFactory(symbol="AAPL", name="Apple Inc.", currency="USD")
    SplitEvent.objects.create(instrument=instrument, date=dt.date(2020, 8, 31), ratio=D(4))
    return instrument


@pytest.fixture
def bars_run(yahoo, eager_tasks, django_capture_on_commit_callbacks):
    """A bars run of the recorded AAPL chart, with what it queues run at once."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return market_services.backfill_bars(
                symbols=["AAPL"], years=1, provider=yahoo, now=AFTER_THE_RECORDING
            )

    return run


def holding_of(portfolio, instrument) -> Holding:
    return Holding.objects.get(portfolio=portfolio, instrument=instrument)


def dividend_entries(holding: Holding) -> list[tuple]:
    return list(
        holding.transactions.filter(kind="dividend")
        .order_by("trade_date")
        .values_list("trade_date", "quantity", "price", "fee", "automatic", "note")
    )


def paid(shares: str, amount: str = "0.205") -> tuple:
    return (EX_DATE, D(shares), D(amount), D(0), True, f"Dividend of {amount} per share")


# -- from a bars run -----------------------------------------------------------------------------


def test_a_bars_run_pays_the_dividend_to_the_shares_held_as_the_ex_date_opens(
    portfolio, user, aapl, trade, bars_run, sent
):
    trade(aapl, "buy", "2020-08-28", 5, "500")  # before the 4-for-1: 20 shares on the ex-date
    later = PortfolioFactory(owner=user, name="Later")
    trade(aapl, "buy", "2020-11-06", 3, "118", into=later)  # bought on the ex-date: no dividend

    run = bars_run()

    assert run.status == "ok", run.errors
    dividend = Dividend.objects.get(instrument=aapl)
    assert sent == [[dividend.pk]]
    holding = holding_of(portfolio, aapl)
    assert dividend_entries(holding) == [paid("20")]
    assert (holding.quantity, holding.cost_basis, holding.realized_pnl) == (
        D(20),
        D(2500),
        D("4.1"),  # 0.205 x 20
    )
    assert dividend_entries(holding_of(later, aapl)) == []
    assert holding_of(later, aapl).realized_pnl == 0


def test_a_second_identical_run_sends_nothing_and_changes_no_entry(
    portfolio, aapl, trade, bars_run, sent
):
    trade(aapl, "buy", "2020-09-01", 10, "130")
    bars_run()
    entries = list(Transaction.objects.order_by("pk").values_list("pk", "quantity", "price"))
    sent.clear()

    run = bars_run()

    assert sent == []
    assert (run.details["dividends"], run.details["changed_dividends"]) == (1, 0)
    assert list(Transaction.objects.order_by("pk").values_list("pk", "quantity", "price")) == (
        entries
    )
    assert dividend_entries(holding_of(portfolio, aapl)) == [paid("10")]


def test_a_dividend_the_user_recorded_for_the_ex_date_is_left_as_it_is(
    portfolio, aapl, trade, bars_run, admin_client, django_capture_on_commit_callbacks
):
    trade(aapl, "buy", "2020-09-01", 10, "130")
    own = trade(aapl, "dividend", "2020-11-06", 10, "0.205", fee="0.31", note="15% withheld")

    bars_run()
    dividend = Dividend.objects.get(instrument=aapl)
    with django_capture_on_commit_callbacks(execute=True):  # and after an edit in the admin
        admin_client.post(
            reverse("admin:market_dividend_change", args=[dividend.pk]),
            dividend_form(dividend, amount="0.21"),
        )

    holding = holding_of(portfolio, aapl)
    assert dividend_entries(holding) == [
        (EX_DATE, D(10), D("0.205"), D("0.31"), False, "15% withheld")
    ]
    assert holding.transactions.get(kind="dividend").pk == own.pk
    assert holding.realized_pnl == D("1.74")  # 2.05 less 0.31 withheld


def test_a_dividend_dated_on_its_pay_date_stands_for_the_markets_and_is_not_paid_twice(
    portfolio, aapl, trade, bars_run
):
    """Brokers date a dividend on the day it is paid, weeks after the ex-date: the user's (or an
    imported) dividend takes the place of the market's latest one up to 45 days before it."""
    trade(aapl, "buy", "2020-09-01", 10, "130")
    trade(aapl, "dividend", "2020-11-12", 10, "0.205", note="paid")  # 6 days after the ex-date
    bars_run()
    holding = holding_of(portfolio, aapl)
    assert dividend_entries(holding) == [
        (dt.date(2020, 11, 12), D(10), D("0.205"), D(0), False, "paid")
    ]
    assert holding.realized_pnl == D("2.05")  # once, not 4.10


def test_a_pay_date_claims_the_latest_unclaimed_ex_date_within_45_days():
    from portfolios.services.dividends import claimed_ex_dates

    quarters = [dt.date(2025, 2, 7), dt.date(2025, 5, 9), dt.date(2025, 8, 8)]
    # Paid 2-4 weeks after each ex-date: each payment claims its own quarter.
    paid = [dt.date(2025, 2, 20), dt.date(2025, 5, 30), dt.date(2025, 9, 4)]
    assert claimed_ex_dates(paid, quarters) == set(quarters)
    # On the ex-date itself, as a user recording it by hand does.
    assert claimed_ex_dates([dt.date(2025, 5, 9)], quarters) == {dt.date(2025, 5, 9)}
    # 46 days after the ex-date is too late, and before any ex-date claims nothing.
    assert claimed_ex_dates([dt.date(2025, 3, 25)], quarters) == set()
    assert claimed_ex_dates([dt.date(2025, 1, 10)], quarters) == set()
    # A second payment in one window (a special dividend) takes the earlier unclaimed ex-date
    # in the window, or none: never the next quarter's.
    assert claimed_ex_dates([dt.date(2025, 5, 20), dt.date(2025, 5, 30)], quarters) == {
        dt.date(2025, 5, 9)
    }


# -- from the admin ------------------------------------------------------------------------------


def dividend_form(dividend_or_instrument, *, amount: str, ex_date=EX_DATE, currency="USD") -> dict:
    instrument_id = getattr(dividend_or_instrument, "instrument_id", dividend_or_instrument.pk)
    return {
        "instrument": instrument_id,
        "ex_date": ex_date.isoformat(),
        "amount": amount,
        "currency": currency,
    }


def test_an_amount_edited_in_the_admin_restates_the_entry(
    portfolio, aapl, trade, bars_run, admin_client, django_capture_on_commit_callbacks
):
    trade(aapl, "buy", "2020-09-01", 10, "130")
    bars_run()
    dividend = Dividend.objects.get(instrument=aapl)
    assert dividend_entries(holding_of(portfolio, aapl)) == [paid("10")]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:market_dividend_change", args=[dividend.pk]),
            dividend_form(dividend, amount="0.82"),
        )

    assert response.status_code == 302
    holding = holding_of(portfolio, aapl)
    assert dividend_entries(holding) == [paid("10", "0.82")]
    assert holding.realized_pnl == D("8.2")


def test_a_dividend_deleted_in_the_admin_takes_its_entry_away(
    portfolio, aapl, trade, bars_run, admin_client, django_capture_on_commit_callbacks
):
    trade(aapl, "buy", "2020-09-01", 10, "130")
    bars_run()
    dividend = Dividend.objects.get(instrument=aapl)
    assert dividend_entries(holding_of(portfolio, aapl)) == [paid("10")]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:market_dividend_delete", args=[dividend.pk]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert not Dividend.objects.exists()
    holding = holding_of(portfolio, aapl)
    assert dividend_entries(holding) == []
    assert (holding.quantity, holding.realized_pnl) == (D(10), D(0))


def test_a_dividend_added_in_the_admin_is_paid(
    portfolio, iren, clsk, trade, admin_client, eager_tasks, django_capture_on_commit_callbacks
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    trade(clsk, "buy", "2025-01-06", 10, "12")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:market_dividend_add"),
            dividend_form(iren, amount="0.125", ex_date=dt.date(2025, 2, 7)),
        )

    assert response.status_code == 302
    assert dividend_entries(holding_of(portfolio, iren)) == [
        (dt.date(2025, 2, 7), D(10), D("0.125"), D(0), True, "Dividend of 0.125 per share")
    ]
    assert dividend_entries(holding_of(portfolio, clsk)) == []


# -- the amount paid then ------------------------------------------------------------------------


def fx_bars(symbol: str, closes: dict[str, str]) -> Instrument:
    rate = InstrumentFactory(symbol=symbol, kind=Instrument.Kind.FX, exchange="FX")
    for day, close in closes.items():
        DailyBar.objects.create(
            instrument=rate, date=dt.date.fromisoformat(day), close=D(close), adj_close=D(close)
        )
    return rate


def test_a_dividend_in_another_currency_is_converted_at_the_ex_dates_fx_close(
    portfolio, iren, trade, eager_tasks, django_capture_on_commit_callbacks
):
    fx_bars("EURUSD=X", {"2025-02-06": "1.0300", "2025-02-07": "1.0850", "2025-02-10": "1.2000"})
    trade(iren, "buy", "2025-01-06", 10, "40")

    with django_capture_on_commit_callbacks(execute=True):
        Dividend.objects.create(
            instrument=iren, ex_date=dt.date(2025, 2, 7), amount=D("0.5"), currency="EUR"
        )
        # On a day without a rate (a Sunday): the last close before it.
        Dividend.objects.create(
            instrument=iren, ex_date=dt.date(2025, 2, 9), amount=D("0.333"), currency="EUR"
        )

    holding = holding_of(portfolio, iren)
    assert dividend_entries(holding) == [
        (dt.date(2025, 2, 7), D(10), D("0.5425"), D(0), True, "Dividend of 0.5425 per share"),
        (dt.date(2025, 2, 9), D(10), D("0.361305"), D(0), True, "Dividend of 0.361305 per share"),
    ]
    assert holding.realized_pnl == D("9.03805")  # (0.5 x 1.085 + 0.333 x 1.085) x 10


def test_a_dividend_without_a_rate_is_left_out_and_logged_until_one_is_stored(
    portfolio, iren, trade, eager_tasks, django_capture_on_commit_callbacks, caplog
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    fx_bars("GBPUSD=X", {"2025-02-10": "1.2400"})  # the history starts after the ex-date

    with caplog.at_level(logging.WARNING, logger="portfolios.services.dividends"):
        with django_capture_on_commit_callbacks(execute=True):
            dividend = Dividend.objects.create(
                instrument=iren, ex_date=dt.date(2025, 2, 7), amount=D("0.2"), currency="GBP"
            )
        with django_capture_on_commit_callbacks(execute=True):
            Dividend.objects.create(
                instrument=iren,
                ex_date=dt.date(2025, 2, 7) + dt.timedelta(days=60),
                amount=D("0.2"),
                currency="CHF",
            )

    holding = holding_of(portfolio, iren)
    assert dividend_entries(holding) == []
    assert holding.realized_pnl == 0
    assert (
        caplog.messages[:2]
        == [
            f"dividend of 0.20000000 GBP on 2025-02-07 not paid to holding {holding.pk}: no "
            "GBPUSD=X close on or before its ex-date to convert it to USD",
        ]
        * 2
    )  # the second dividend's recompute passes this one again
    assert caplog.messages[2] == (
        f"dividend of 0.20000000 CHF on 2025-04-08 not paid to holding {holding.pk}: no "
        "CHFUSD=X close on or before its ex-date to convert it to USD"
    )
    # The missing rate is fetched from now on, by the bars refresh like any instrument's.
    assert Instrument.objects.get(symbol="CHFUSD=X").is_active

    fx_bars("CHFUSD=X", {"2025-04-07": "1.2100"})
    DailyBar.objects.create(
        instrument=Instrument.objects.get(symbol="GBPUSD=X"),
        date=dt.date(2025, 2, 7),
        close=D("1.2475"),
        adj_close=D("1.2475"),
    )
    trade(iren, "buy", "2025-05-05", 1, "40")  # the next recompute pays them

    holding.refresh_from_db()
    assert dividend_entries(holding) == [
        (dividend.ex_date, D(10), D("0.2495"), D(0), True, "Dividend of 0.2495 per share"),
        (dt.date(2025, 4, 8), D(10), D("0.242"), D(0), True, "Dividend of 0.242 per share"),
    ]
    assert holding.realized_pnl == D("4.915")


def test_a_dividend_before_a_split_is_paid_per_share_held_then(
    portfolio, iren, trade, split_event, eager_tasks, django_capture_on_commit_callbacks
):
    # Like Yahoo's history, the stored amounts are on today's share basis: 0.10 before the
    # 4-for-1 of 3 March was 0.40 a share then.
    trade(iren, "buy", "2025-01-06", 10, "40")
    split_event(iren, "2025-03-03", "4")
    with django_capture_on_commit_callbacks(execute=True):
        Dividend.objects.create(
            instrument=iren, ex_date=dt.date(2025, 2, 7), amount=D("0.1"), currency="USD"
        )
        Dividend.objects.create(
            instrument=iren, ex_date=dt.date(2025, 5, 9), amount=D("0.1"), currency="USD"
        )

    holding = holding_of(portfolio, iren)
    assert dividend_entries(holding) == [
        (dt.date(2025, 2, 7), D(10), D("0.4"), D(0), True, "Dividend of 0.4 per share"),
        (dt.date(2025, 5, 9), D(40), D("0.1"), D(0), True, "Dividend of 0.1 per share"),
    ]
    assert (holding.quantity, holding.realized_pnl) == (D(40), D(8))


def test_a_dividend_waiting_for_its_rate_is_paid_when_a_bars_run_brings_the_rates_history(
    portfolio, iren, trade, eager_tasks, django_capture_on_commit_callbacks
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    with django_capture_on_commit_callbacks(execute=True):
        Dividend.objects.create(
            instrument=iren, ex_date=dt.date(2025, 2, 7), amount=D("0.2"), currency="CHF"
        )
    assert dividend_entries(holding_of(portfolio, iren)) == []  # no CHFUSD=X close yet
    rate = Instrument.objects.get(symbol="CHFUSD=X")  # created for the bars refresh to fetch

    provider = FakeProvider(bar_symbols=["CHFUSD=X"], base_close=D("1.21"))
    with django_capture_on_commit_callbacks(execute=True):
        market_services.backfill_bars(
            symbols=["CHFUSD=X"],
            years=1,
            provider=provider,
            now=dt.datetime(2025, 2, 20, 23, tzinfo=dt.UTC),
        )

    assert DailyBar.objects.filter(instrument=rate).exists()
    # Paid with no write to the holding: 0.2 CHF x 1.21 = 0.242 USD a share, 10 shares.
    assert dividend_entries(holding_of(portfolio, iren)) == [
        (dt.date(2025, 2, 7), D(10), D("0.242"), D(0), True, "Dividend of 0.242 per share")
    ]


# -- when the ledgers' update cannot be queued ---------------------------------------------------


def test_a_broker_that_cannot_be_reached_is_logged_and_the_next_recompute_pays(
    portfolio, iren, trade, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from config.celery import app

    trade(iren, "buy", "2025-01-06", 10, "40")
    provider = FakeProvider(
        bar_symbols=["IREN"], dividends={"IREN": [(dt.date(2025, 2, 7), D("0.15"), "USD")]}
    )
    # Nothing listens on port 1: each publish is a real connection attempt that fails.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)

    with (
        caplog.at_level(logging.ERROR, logger="portfolios.apps"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run = market_services.backfill_bars(
            symbols=["IREN"],
            years=1,
            provider=provider,
            now=dt.datetime(2025, 2, 10, 23, tzinfo=dt.UTC),
        )

    assert run.status == "ok"
    dividend = Dividend.objects.get(instrument=iren)
    assert caplog.messages == [f"could not queue the ledger update for dividends [{dividend.pk}]"]
    assert dividend_entries(holding_of(portfolio, iren)) == []

    trade(iren, "buy", "2025-03-03", 5, "41")  # the next recompute of the holding pays it
    assert dividend_entries(holding_of(portfolio, iren)) == [
        (dt.date(2025, 2, 7), D(10), D("0.15"), D(0), True, "Dividend of 0.15 per share")
    ]
