"""The refresh services on Yahoo's recorded answers, through yfinance's own parsing: market caps
equal to Yahoo's, bars to the payload's 6 decimals, dividends, delisted symbols."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from yfinance import cache as yfinance_cache

from market import selectors, services
from market.models import DailyBar, Dividend, Instrument, MarketState, PriceSnapshot, Quote
from market.providers import ProviderUnavailable
from market.providers.yahoo import YahooProvider
from market.sessions import NEW_YORK
from tests.factories import DailyBarFactory, InstrumentFactory, MinerFactory, QuoteFactory
from tests.market.yahoo_transport import (
    YahooTransport,
    load,
    pre_market_quote,
    quote_like,
    recorded_quote,
    recorded_yfinance,
    session_for,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]

TUESDAY_11AM = datetime(2026, 11, 24, 11, 0, tzinfo=NEW_YORK)
SPLIT_CHART = "chart_AAPL_2020-08-31_to_2020-11-07_1d_div_split.json"


@pytest.fixture
def transport():
    with recorded_yfinance():
        transport = YahooTransport()
        yield transport
        assert transport.unrouted == []


@pytest.fixture
def provider(transport):
    return YahooProvider(session=session_for(transport))


def refresh(provider, moment=TUESDAY_11AM):
    return services.refresh_quotes(provider=provider, now=moment, force=True)


# -- market cap --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "kind", "market_cap", "shares"),
    [
        # Every recorded quote response: Yahoo's marketCap, and the shares it implies.
        ("AAPL", Instrument.Kind.EQUITY, "3674405863424", "15022100831.6599"),
        ("BTC-USD", Instrument.Kind.CRYPTO, "1904783523840", "19825500.4045"),
    ],
)
def test_quote_market_cap_is_yahoos(provider, symbol, kind, market_cap, shares):
    # The profile's share count would give another figure: the provider's own wins.
    InstrumentFactory(symbol=symbol, kind=kind, shares_outstanding=1_000)
    assert recorded_quote(symbol)["marketCap"] == int(market_cap)

    run = refresh(provider)

    assert run.status == "ok"
    quote = Quote.objects.get(instrument__symbol=symbol)
    assert quote.market_cap == Decimal(market_cap)
    assert quote.market_cap_source == Quote.CapSource.PROVIDER
    assert quote.market_cap_shares == Decimal(shares)
    snapshot = PriceSnapshot.objects.get(instrument__symbol=symbol)
    assert snapshot.market_cap == Decimal(market_cap)


def test_without_yahoos_market_cap_it_is_price_times_shares(transport, provider):
    InstrumentFactory(symbol="AAPL")
    transport.quotes["AAPL"] = {k: v for k, v in recorded_quote("AAPL").items() if k != "marketCap"}

    refresh(provider)

    quote = Quote.objects.get(instrument__symbol="AAPL")
    assert quote.market_cap == Decimal("244.6") * 15022100480 == Decimal("3674405777408.0")
    assert quote.market_cap_source == Quote.CapSource.SHARES
    assert quote.market_cap_shares == 15022100480


def test_sector_total_sums_yahoos_market_caps(transport, provider):
    # Two miners quoted from the recorded AAPL answer (one at the pre-market recording); the
    # sector total is the sum of Yahoo's figures, not of price x sharesOutstanding.
    MinerFactory(instrument=InstrumentFactory(symbol="IREN"))
    MinerFactory(instrument=InstrumentFactory(symbol="WULF"))
    transport.quotes["IREN"] = quote_like("AAPL", "IREN")
    transport.quotes["WULF"] = pre_market_quote("WULF")

    refresh(provider)

    yahoo_total = Decimal(3674405863424) + Decimal(3688676720640)
    price_times_shares = Decimal("244.6") * 15022100480 + Decimal("245.55") * 15022100480
    assert yahoo_total - price_times_shares == Decimal("33792.00")  # what changed
    assert selectors.live_sector_total() == yahoo_total
    assert sum(PriceSnapshot.objects.values_list("market_cap", flat=True)) == yahoo_total


def test_pre_market_cap_is_the_implied_shares_at_the_pre_market_price(transport, provider):
    MinerFactory(instrument=InstrumentFactory(symbol="WULF"))
    transport.quotes["WULF"] = pre_market_quote("WULF")
    refresh(provider, datetime(2026, 11, 24, 8, 0, tzinfo=NEW_YORK))

    row = next(r for r in selectors.instrument_rows({}) if r.symbol == "WULF")
    quote = Quote.objects.get(instrument__symbol="WULF")
    shares = Decimal(3688676720640) / Decimal("245.55")
    assert quote.market_cap_shares == shares.quantize(Decimal("0.0001"))
    # Pre-market 245.24 against the last close 245.55: the move times the implied shares.
    assert quote.pre_market_change == Decimal("-0.31")
    assert row.pre_market_cap_change == Decimal("-0.31") * quote.market_cap_shares
    summary = selectors.sector_summary([row], MarketState.PRE)
    assert summary.pre_market.total == Decimal(3688676720640) + row.pre_market_cap_change


def test_miner_page_says_where_the_market_cap_comes_from(client, transport, provider):
    MinerFactory(instrument=InstrumentFactory(symbol="IREN"))
    MinerFactory(instrument=InstrumentFactory(symbol="WULF", shares_outstanding=2_000))
    transport.quotes["IREN"] = quote_like("AAPL", "IREN")
    transport.quotes["WULF"] = quote_like("AAPL", "WULF", marketCap=None, sharesOutstanding=None)
    refresh(provider)

    iren = client.get(reverse("market:miner", args=["IREN"])).content.decode()
    wulf = client.get(reverse("market:miner", args=["WULF"])).content.decode()

    assert "Yahoo’s figure" in iren and "price × shares" not in iren
    assert Quote.objects.get(instrument__symbol="WULF").market_cap == Decimal("489200.00")
    assert "price × shares outstanding" in wulf and "Yahoo’s figure" not in wulf


# -- daily bars and dividends ------------------------------------------------------------------


def six_places(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.000001"))


@pytest.mark.parametrize(
    ("symbol", "recording"),
    [
        ("AAPL", SPLIT_CHART),
        ("XJAN", "chart_AAPL_2020-01-01_to_2020-01-03_1d.json"),
        ("BTC-USD", "chart_BTC-USD_2020-01-01_to_2020-01-03_1d.json"),
        ("QQQ", "chart_QQQ_2020-01-01_to_2020-01-03_1d.json"),
    ],
)
def test_stored_bars_equal_the_payload_to_six_decimals(transport, provider, symbol, recording):
    InstrumentFactory(symbol=symbol)
    transport.charts[symbol] = recording
    result = load(recording)["chart"]["result"][0]
    quote, adjusted = result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]
    expected = [
        (
            datetime.fromtimestamp(stamp, tz=UTC).date(),
            *(six_places(quote[key][i]) for key in ("open", "high", "low", "close")),
            six_places(adjusted["adjclose"][i]),
            quote["volume"][i],
        )
        for i, stamp in enumerate(result["timestamp"])
    ]

    run = services.backfill_bars(
        symbols=[symbol], years=7, provider=provider, now=datetime(2020, 11, 9, tzinfo=UTC)
    )

    assert run.status == "ok", run.errors
    stored = DailyBar.objects.filter(instrument__symbol=symbol).order_by("date")
    fields = ("date", "open", "high", "low", "close", "adj_close", "volume")
    assert list(stored.values_list(*fields)) == expected


def test_dividends_are_stored_once_per_ex_date(transport, provider):
    aapl = InstrumentFactory(symbol="AAPL")
    moment = datetime(2020, 11, 9, tzinfo=UTC)

    for _ in range(2):  # a second run updates, never duplicates
        run = services.backfill_bars(symbols=["AAPL"], years=1, provider=provider, now=moment)
        moment += timedelta(minutes=1)

    dividends = list(Dividend.objects.values_list("instrument", "ex_date", "amount", "currency"))
    assert dividends == [(aapl.pk, date(2020, 11, 6), Decimal("0.205"), "USD")]
    assert run.details["dividends"] == 1
    assert list(aapl.splits.values_list("date", "ratio")) == [(date(2020, 8, 31), Decimal(4))]


# -- delisted symbols --------------------------------------------------------------------------


def test_a_delisted_symbol_becomes_inactive_keeps_its_data_and_can_be_reactivated(
    client, admin_client, transport, provider, settings
):
    settings.DELIST_AFTER_FAILURES = 3
    # SI's time zone is known (as it is after years of refreshes), so the history request itself
    # gets Yahoo's recorded 404 "No data found, symbol may be delisted".
    yfinance_cache.get_tz_cache().store("SI", "America/New_York")
    gone = InstrumentFactory(symbol="SI", name="Silvergate Capital")
    QuoteFactory(instrument=gone, price=Decimal("1.65"))
    DailyBarFactory(instrument=gone, date=date(2020, 1, 2), close=Decimal("1.65"))
    aapl = InstrumentFactory(symbol="AAPL")
    transport.charts["AAPL"] = SPLIT_CHART
    moment = datetime(2020, 11, 9, 23, tzinfo=UTC)

    for day in range(2):
        run = services.update_bars(provider=provider, now=moment + timedelta(days=day))
        assert run.errors["SI"] == "UnknownSymbol: $SI: No data found, symbol may be delisted"
    gone.refresh_from_db()
    assert (gone.is_active, gone.failure_count) == (True, 2)

    third = moment + timedelta(days=2)
    services.update_bars(provider=provider, now=third)

    gone.refresh_from_db()
    assert (gone.is_active, gone.failure_count, gone.deactivated_at) == (False, 3, third)
    assert gone.last_failure == "UnknownSymbol: $SI: No data found, symbol may be delisted"
    assert gone.quote.price == Decimal("1.65") and gone.bars.count() == 1  # last good data
    aapl.refresh_from_db()
    assert (aapl.is_active, aapl.failure_count) == (True, 0)
    # Refreshes no longer ask for it.
    before = transport.count("/v8/finance/chart/SI")
    services.update_bars(provider=provider, now=moment + timedelta(days=3))
    refresh(provider)
    assert transport.count("/v8/finance/chart/SI") == before
    assert "SI" not in transport.requests[-1].url

    status = client.get("/status/").content.decode()
    delisted = status[
        status.index('id="delisted"') : status.index("</table>", status.index('id="delisted"'))
    ]
    assert "SI <span" in delisted and "Silvergate Capital" in delisted
    assert "No data found, symbol may be delisted" in delisted
    assert "1.65" in delisted and "2020-01-02" in delisted  # its last quote and bar

    response = admin_client.post(
        reverse("admin:market_instrument_changelist"),
        {"action": "reactivate", "_selected_action": [gone.pk]},
        follow=True,
    )
    assert "1 instrument reactivated" in response.content.decode()
    gone.refresh_from_db()
    assert (gone.is_active, gone.failure_count, gone.deactivated_at) == (True, 0, None)
    status = client.get("/status/").content.decode()
    assert "No symbol has been made inactive." in status and 'id="delisted"' not in status


def test_a_symbol_that_answers_again_starts_counting_from_zero(transport, provider, settings):
    settings.DELIST_AFTER_FAILURES = 2
    yfinance_cache.get_tz_cache().store("XFLK", "America/New_York")  # the chart itself answers
    flaky = InstrumentFactory(symbol="XFLK")
    moment = datetime(2020, 11, 9, 23, tzinfo=UTC)
    services.update_bars(provider=provider, now=moment)  # unknown: the recorded 404
    flaky.refresh_from_db()
    assert flaky.failure_count == 1

    transport.charts["XFLK"] = copy.deepcopy(load(SPLIT_CHART))
    services.update_bars(provider=provider, now=moment + timedelta(days=1))

    flaky.refresh_from_db()
    assert (flaky.is_active, flaky.failure_count, flaky.last_failure) == (True, 0, "")


def test_one_404_then_good_answers_never_delists_the_symbol(transport, provider, settings):
    # XBACK's time zone was never looked up, so yfinance asks for it first (a chart request);
    # its first answer is Yahoo's 404, which yfinance keeps for the life of the process. Asking
    # the quote for the time zone instead, yfinance does only twice per process: a worker that
    # met two other unknown symbols (XNONE1, XNONE2) no longer does. Without asking Yahoo again,
    # it would say "possibly delisted; no timezone found" on every later run, and the symbol
    # would be made inactive while Yahoo answers.
    settings.DELIST_AFTER_FAILURES = 2
    revived = InstrumentFactory(symbol="XBACK")
    InstrumentFactory(symbol="XNONE1")
    InstrumentFactory(symbol="XNONE2")
    moment = datetime(2020, 11, 9, 23, tzinfo=UTC)
    run = services.update_bars(provider=provider, now=moment)
    assert run.errors["XBACK"] == "UnknownSymbol: Yahoo does not know 'XBACK' (HTTP 404)"
    revived.refresh_from_db()
    assert (revived.is_active, revived.failure_count) == (True, 1)

    # Yahoo knows it again: its chart and its quote answer.
    transport.charts["XBACK"] = copy.deepcopy(load(SPLIT_CHART))
    transport.quotes["XBACK"] = quote_like("AAPL", "XBACK")
    for day in (1, 2, 3):
        asked = transport.count("/v8/finance/chart/XBACK")
        run = services.update_bars(provider=provider, now=moment + timedelta(days=day))
        assert "XBACK" not in run.errors
        assert transport.count("/v8/finance/chart/XBACK") > asked  # a fresh answer each run
        revived.refresh_from_db()
        assert (revived.is_active, revived.failure_count, revived.last_failure) == (True, 0, "")
    assert revived.bars.count() == 49


def test_fresh_404s_without_a_time_zone_still_delist(transport, provider, settings):
    settings.DELIST_AFTER_FAILURES = 3
    gone = InstrumentFactory(symbol="XGONE")
    moment = datetime(2020, 11, 9, 23, tzinfo=UTC)
    for day in range(3):
        asked = len(transport.requests)
        run = services.update_bars(provider=provider, now=moment + timedelta(days=day))
        assert run.errors["XGONE"].startswith("UnknownSymbol: ")
        # Each run's "unknown" is a 404 Yahoo sent in that run.
        fresh = [r.url for r in transport.requests[asked:] if "XGONE" in r.url]
        assert fresh
    gone.refresh_from_db()
    assert (gone.is_active, gone.failure_count) == (False, 3)


def test_network_failures_do_not_count_as_delisting(transport, provider, settings):
    import requests

    from tests.market.yahoo_transport import Reply

    settings.DELIST_AFTER_FAILURES = 1
    InstrumentFactory(symbol="XNET")
    transport.override("/v8/finance/chart/XNET", Reply(error=requests.exceptions.ReadTimeout("x")))
    with pytest.raises(ProviderUnavailable):  # the task retries it
        services.update_bars(provider=provider, now=datetime(2020, 11, 9, 23, tzinfo=UTC))
    assert Instrument.objects.get(symbol="XNET").failure_count == 0
