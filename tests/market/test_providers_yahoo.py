"""The Yahoo provider, run through yfinance's own request and parsing code on recorded responses
(tests/data/yahoo/, see its README for what was recorded and what was derived)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from market.providers.base import (
    CLOSED,
    POST,
    PRE,
    REGULAR,
    MalformedData,
    ProviderUnavailable,
    RateLimited,
    UnknownSymbol,
)
from market.providers.yahoo import YahooProvider
from market.providers.yahoo_http import (
    YahooSession,
    note_response,
    process_session,
    retry_after_seconds,
)
from tests.market.yahoo_transport import (
    CRUMB,
    UNIVERSE,
    Reply,
    YahooTransport,
    load,
    pre_market_quote,
    quote_like,
    recorded_quote,
    recorded_yfinance,
    session_for,
    universe_quotes,
)

# yfinance 1.7 still uses pandas' deprecated inplace= arguments.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

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


def quote_params(request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}


# -- quotes: requests ------------------------------------------------------------------------------


def test_universe_quotes_take_one_request(transport, provider):
    transport.quotes.update(universe_quotes())

    first = provider.fetch_quotes(UNIVERSE)

    assert set(first.items) == set(UNIVERSE) and not first.errors
    # yfinance fetches its cookie and crumb once per process (in a fresh process that is two
    # requests before the first quote: test_yahoo_contract.py); then one request per refresh.
    assert transport.count("/v7/finance/quote") == 1
    assert set(transport.paths()) <= {
        "fc.yahoo.com/",
        "query1.finance.yahoo.com/v1/test/getcrumb",
        "query1.finance.yahoo.com/v7/finance/quote",
    }
    before = len(transport.requests)
    provider.fetch_quotes(UNIVERSE)
    assert transport.paths()[before:] == ["query1.finance.yahoo.com/v7/finance/quote"]
    params = quote_params(transport.requests[-1])
    assert params["symbols"].split(",") == UNIVERSE
    assert params["crumb"] == CRUMB


def test_many_symbols_are_chunked(transport):
    symbols = [f"S{i:03d}" for i in range(250)]
    transport.quotes.update(universe_quotes(symbols))
    provider = YahooProvider(session=session_for(transport), quote_chunk_size=100)

    batch = provider.fetch_quotes(symbols)

    assert len(batch.items) == 250 and not batch.errors
    assert transport.count("/v7/finance/quote") == 3


def test_duplicates_and_empty_lists(transport, provider):
    assert provider.fetch_quotes([]).items == {}
    assert transport.requests == []
    batch = provider.fetch_quotes(["AAPL", "AAPL"])
    assert list(batch.items) == ["AAPL"]
    assert quote_params(transport.requests[-1])["symbols"] == "AAPL"


def test_providers_share_one_hook_on_the_session(transport):
    session = session_for(transport)
    for _ in range(3):
        YahooProvider(session=session).fetch_quotes(["AAPL"])
    assert session.hooks["response"] == [note_response]  # a provider per task adds none


def test_default_session_is_one_per_process():
    first, second = YahooProvider(), YahooProvider()
    assert first._session is second._session is process_session()
    assert isinstance(first._session, YahooSession)
    assert first._session.impersonate == "chrome"


# -- quotes: sessions and fields -------------------------------------------------------------------


def test_closed_on_a_holiday(transport, provider):
    # Recorded on Presidents' Day 2025 (market closed): Friday's close, Friday's after-hours.
    quote = provider.fetch_quotes(["AAPL"]).items["AAPL"]
    assert quote.market_state == CLOSED
    assert quote.price == Decimal("244.6")
    assert quote.previous_close == Decimal("241.53")
    assert quote.post_market_price == Decimal("244.64")
    assert quote.pre_market_price is None
    assert quote.day_high == Decimal("245.41") and quote.day_low == Decimal("241")
    assert quote.volume == 40896227
    assert quote.shares_outstanding == 15022100480
    assert quote.market_cap == Decimal("3674405863424")
    assert quote.currency == "USD"
    assert quote.provider_time == datetime(2025, 2, 14, 21, 0, tzinfo=UTC)
    assert quote.source == "yahoo"


def test_regular_session(transport, provider):
    regular = {k: v for k, v in recorded_quote("AAPL").items() if not k.startswith("postMarket")}
    transport.quotes["AAPL"] = regular | {"marketState": "REGULAR"}

    quote = provider.fetch_quotes(["AAPL"]).items["AAPL"]

    assert quote.market_state == REGULAR
    assert quote.price == Decimal("244.6")
    assert quote.pre_market_price is None and quote.post_market_price is None


def test_crypto_quote(transport, provider):
    quote = provider.fetch_quotes(["BTC-USD"]).items["BTC-USD"]
    assert quote.market_state == REGULAR
    assert quote.price == Decimal("96077.45")
    assert quote.previous_close == Decimal("96137.88")
    assert quote.shares_outstanding is None
    assert quote.market_cap == Decimal("1904783523840")


def test_pre_market(transport, provider):
    transport.quotes["AAPL"] = pre_market_quote()

    quote = provider.fetch_quotes(["AAPL"]).items["AAPL"]

    assert quote.market_state == PRE
    assert quote.pre_market_price == Decimal("245.24")
    # Before the open the regular price is the last close, the previous close the one before.
    assert quote.price == Decimal("245.55")
    assert quote.previous_close == Decimal("245.83")
    assert quote.post_market_price == Decimal("245.08")  # last night's after-hours
    assert quote.market_cap == Decimal("3688676720640")


def test_after_hours(transport, provider):
    transport.quotes["AAPL"] = recorded_quote("AAPL") | {"marketState": "POST"}
    quote = provider.fetch_quotes(["AAPL"]).items["AAPL"]
    assert quote.market_state == POST
    assert quote.post_market_price == Decimal("244.64")


@pytest.mark.parametrize(
    ("yahoo_state", "state"),
    # A state Yahoo has not used before is not guessed: the refresh goes by New York's clock.
    [("PREPRE", CLOSED), ("POSTPOST", CLOSED), ("PRE", PRE), ("SOMETHING_NEW", None)],
)
def test_market_states(transport, provider, yahoo_state, state):
    transport.quotes["AAPL"] = recorded_quote("AAPL") | {"marketState": yahoo_state}
    assert provider.fetch_quotes(["AAPL"]).items["AAPL"].market_state == state


def test_extended_price_older_than_the_regular_price_is_dropped(transport, provider):
    # In the regular session Yahoo still shows this morning's pre-market price.
    regular_time = recorded_quote("AAPL")["regularMarketTime"]
    transport.quotes["AAPL"] = recorded_quote("AAPL") | {
        "marketState": "REGULAR",
        "preMarketPrice": 240.0,
        "preMarketTime": regular_time - 3600 * 5,
        "postMarketTime": regular_time - 3600 * 20,
    }
    quote = provider.fetch_quotes(["AAPL"]).items["AAPL"]
    assert quote.pre_market_price is None and quote.post_market_price is None


# -- quotes in a minor unit (London's pence) -------------------------------------------------


@pytest.mark.parametrize(
    ("market_cap", "why"),
    [(19_035_000_000, "in pounds"), (1_903_500_000_000, "in pence"), (None, "none")],
)
def test_a_quote_in_pence_is_kept_in_pounds(transport, provider, market_cap, why):
    transport.quotes["XLON.L"] = quote_like(
        "AAPL",
        "XLON.L",
        currency="GBp",
        regularMarketPrice=70.5,
        regularMarketPreviousClose=69.0,
        regularMarketDayHigh=71.0,
        regularMarketDayLow=68.25,
        sharesOutstanding=27_000_000_000,
        marketCap=market_cap,
    )
    quote = provider.fetch_quotes(["XLON.L"]).items["XLON.L"]
    assert quote.currency == "GBP"
    assert (quote.price, quote.previous_close, quote.day_high, quote.day_low) == (
        Decimal("0.705"),
        Decimal("0.69"),
        Decimal("0.71"),
        Decimal("0.6825"),
    )
    # Whatever unit Yahoo's cap comes in, it is kept in pounds: 27 bn shares x 0.705.
    expected = Decimal("19035000000.00") if market_cap else None
    assert quote.market_cap == expected, why


def test_a_quote_in_pounds_is_left_as_it_is(transport, provider):
    transport.quotes["XGBP.L"] = quote_like(
        "AAPL", "XGBP.L", currency="GBP", regularMarketPrice=70.5, marketCap=1_000_000
    )
    quote = provider.fetch_quotes(["XGBP.L"]).items["XGBP.L"]
    assert (quote.currency, quote.price, quote.market_cap) == (
        "GBP",
        Decimal("70.5"),
        Decimal("1000000.00"),
    )


# -- quotes: bad data ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_price", [None, math.nan, math.inf, 0, "n/a"])
def test_bad_price_fails_that_symbol_only(transport, provider, bad_price):
    transport.quotes["IREN"] = quote_like("AAPL", "IREN", regularMarketPrice=bad_price)

    batch = provider.fetch_quotes(["AAPL", "IREN", "BTC-USD"])

    assert set(batch.items) == {"AAPL", "BTC-USD"}
    assert isinstance(batch.errors["IREN"], MalformedData)
    assert "regularMarketPrice" in str(batch.errors["IREN"])


def test_nan_literal_in_the_body(transport, provider):
    # Yahoo's JSON can carry NaN literals, which json accepts.
    bad = quote_like("AAPL", "IREN", regularMarketPrice=math.nan, marketCap=math.nan)
    body = json.dumps({"quoteResponse": {"result": [recorded_quote("AAPL"), bad], "error": None}})
    assert "NaN" in body
    transport.override("/v7/finance/quote", Reply(body=body))

    batch = provider.fetch_quotes(["AAPL", "IREN"])

    assert list(batch.items) == ["AAPL"]
    assert isinstance(batch.errors["IREN"], MalformedData)


def test_bad_optional_fields_become_none(transport, provider):
    transport.quotes["AAPL"] = recorded_quote("AAPL") | {
        "regularMarketPreviousClose": math.nan,
        "marketCap": None,
        "regularMarketVolume": -5,
        "sharesOutstanding": True,
    }
    quote = provider.fetch_quotes(["AAPL"]).items["AAPL"]
    assert quote.price == Decimal("244.6")
    assert quote.previous_close is None and quote.market_cap is None
    assert quote.volume is None and quote.shares_outstanding is None


def test_unknown_symbol_goes_to_errors(transport, provider):
    batch = provider.fetch_quotes(["AAPL", "ZZZZ", "BTC-USD"])
    assert set(batch.items) == {"AAPL", "BTC-USD"}
    assert isinstance(batch.errors["ZZZZ"], UnknownSymbol)
    assert batch.errors["ZZZZ"].symbol == "ZZZZ"


def test_malformed_json(transport, provider):
    truncated = (load_bytes := (transport._body("quote_v7_AAPL.json")))[: len(load_bytes) // 2]
    transport.override("/v7/finance/quote", Reply(body=truncated))
    with pytest.raises(MalformedData, match="not JSON"):
        provider.fetch_quotes(["AAPL"])


def test_unexpected_json_shape(transport, provider):
    transport.override("/v7/finance/quote", Reply(body={"finance": {"error": "nope"}}))
    with pytest.raises(MalformedData):
        provider.fetch_quotes(["AAPL"])


# -- quotes: transport failures --------------------------------------------------------------------


def test_rate_limited_with_retry_after(transport, provider):
    transport.override(
        "/v7/finance/quote",
        Reply(status=429, body="Too Many Requests", headers={"Retry-After": "30"}),
    )
    with pytest.raises(RateLimited) as caught:
        provider.fetch_quotes(["AAPL", "BTC-USD"])
    assert caught.value.retry_after == 30.0
    assert isinstance(caught.value, ProviderUnavailable)  # tasks retry on both


def test_rate_limited_without_retry_after(transport, provider):
    transport.override("/v7/finance/quote", Reply(status=429, body="Too Many Requests"))
    with pytest.raises(RateLimited) as caught:
        provider.fetch_quotes(["AAPL"])
    assert caught.value.retry_after is None


def test_rate_limited_on_a_later_chunk_keeps_the_first(transport):
    transport.quotes.update(universe_quotes(UNIVERSE))
    provider = YahooProvider(session=session_for(transport), quote_chunk_size=10)
    answered = []

    def second_chunk_limited(request):
        answered.append(request)
        if len(answered) > 1:
            return Reply(status=429, headers={"Retry-After": "12"})
        return None  # the recording

    transport.override("/v7/finance/quote", second_chunk_limited)

    batch = provider.fetch_quotes(UNIVERSE)

    assert list(batch.items) == UNIVERSE[:10]
    assert set(batch.errors) == set(UNIVERSE[10:])
    assert all(isinstance(e, RateLimited) and e.retry_after == 12 for e in batch.errors.values())


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ConnectionError("connection refused"),
    ],
)
def test_timeouts_and_connection_errors(transport, provider, error):
    transport.override("", Reply(error=error))  # nothing answers, not even the cookie
    with pytest.raises(ProviderUnavailable) as caught:
        provider.fetch_quotes(["AAPL"])
    assert not isinstance(caught.value, (RateLimited, MalformedData))
    assert type(error).__name__ in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(transport, provider, status):
    transport.override("/v7/finance/quote", Reply(status=status, body="upstream failure"))
    with pytest.raises(ProviderUnavailable, match=str(status)):
        provider.fetch_quotes(["AAPL"])


def test_retry_after_http_date():
    now = datetime(2025, 2, 17, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 17 Feb 2025 10:01:30 GMT", now=now) == 90
    assert retry_after_seconds("Mon, 17 Feb 2025 09:00:00 GMT", now=now) == 0
    assert retry_after_seconds(" 7 ", now=now) == 7
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None) is None


# -- profiles --------------------------------------------------------------------------------------


def test_profiles(transport, provider):
    transport.quotes["QQQ"] = quote_like("AAPL", "QQQ", quoteType="ETF")
    transport.quotes["IREN"] = quote_like("AAPL", "IREN")  # an equity without statistics

    batch = provider.fetch_profiles(["AAPL", "BTC-USD", "QQQ", "IREN", "ZZZZ"])

    aapl = batch.items["AAPL"]
    assert aapl.name == "Apple Inc."
    assert aapl.exchange == "NasdaqGS"
    assert aapl.currency == "USD"
    assert aapl.kind == "equity"
    assert aapl.shares_outstanding == 15022100480
    assert aapl.enterprise_value == Decimal("3731694026752")
    btc = batch.items["BTC-USD"]
    assert (btc.kind, btc.name, btc.exchange) == ("crypto", "Bitcoin USD", "CCC")
    assert btc.shares_outstanding is None and btc.enterprise_value is None
    assert batch.items["QQQ"].kind == "etf"
    assert batch.items["IREN"].enterprise_value is None  # Yahoo's 404: no fundamentals
    assert isinstance(batch.errors["ZZZZ"], UnknownSymbol)
    # One batched quote request, then key statistics for the two equities only (yfinance asks
    # twice on an HTTP error, with a fresh crumb the second time: IREN's 404).
    assert transport.count("/v7/finance/quote") == 1
    assert transport.count("/v10/finance/quoteSummary/AAPL") == 1
    assert transport.count("/v10/finance/quoteSummary/IREN") == 2
    assert transport.count("/v10/finance/quoteSummary/") == 3


def test_profiles_rate_limited_on_statistics(transport, provider):
    transport.quotes.update(universe_quotes(["IREN", "WULF"]))
    transport.override("/v10/finance/quoteSummary/", Reply(status=429))
    batch = provider.fetch_profiles(["BTC-USD", "IREN", "WULF"])
    assert list(batch.items) == ["BTC-USD"]
    assert all(isinstance(batch.errors[s], RateLimited) for s in ("IREN", "WULF"))
    # After the first 429 no more statistics requests (yfinance retries that one once).
    assert transport.count("/v10/finance/quoteSummary/") == 2
    with pytest.raises(RateLimited):  # nothing at all came back: the call failed
        provider.fetch_profiles(["IREN", "WULF"])


# -- daily bars ------------------------------------------------------------------------------------


def test_daily_bars_with_a_split(transport, provider):
    batch = provider.fetch_daily_bars(["AAPL"], date(2020, 8, 31), date(2020, 11, 6))

    bars = batch.items["AAPL"]
    assert len(bars.bars) == 49
    first, last = bars.bars[0], bars.bars[-1]
    assert first.date == date(2020, 8, 31) and last.date == date(2020, 11, 6)
    # The chart's floats to 6 decimals: open 127.58000183105469, close 129.0399932861328.
    assert first.open == Decimal("127.580002")
    assert first.high == Decimal("131") and first.low == Decimal("126")
    assert first.close == Decimal("129.039993")
    assert first.adj_close == Decimal("125.826736")
    assert first.volume == 225702700
    assert all(bar.low <= bar.close <= bar.high for bar in bars.bars)
    assert [(s.date, s.ratio) for s in bars.splits] == [(date(2020, 8, 31), Decimal(4))]
    assert [(d.date, d.amount, d.currency) for d in bars.dividends] == [
        (date(2020, 11, 6), Decimal("0.205"), "USD")
    ]
    chart_params = quote_params(transport.requests[-1])
    assert chart_params["interval"] == "1d"
    assert "splits" in chart_params["events"]


def test_daily_bars_of_a_chart_in_pence_are_in_pounds(transport, provider):
    """London's charts are in pence (currency "GBp"): bars and dividends are kept in pounds."""
    chart = load(SPLIT_CHART)
    chart["chart"]["result"][0]["meta"]["currency"] = "GBp"
    transport.charts["XGBP.L"] = chart

    bars = provider.fetch_daily_bars(["XGBP.L"], date(2020, 8, 31), date(2020, 11, 6))

    history = bars.items["XGBP.L"]
    first = history.bars[0]
    # The recorded close 129.0399932861328 read as pence: 1.290399932861328 pounds, 6 decimals.
    assert (first.open, first.close, first.adj_close) == (
        Decimal("1.275800"),
        Decimal("1.290400"),
        Decimal("1.258267"),
    )
    assert [(d.date, d.amount, d.currency) for d in history.dividends] == [
        (date(2020, 11, 6), Decimal("0.00205"), "GBP")
    ]


def test_daily_bars_range_is_inclusive_and_filters_splits(transport, provider):
    bars = provider.fetch_daily_bars(["AAPL"], date(2020, 9, 1), date(2020, 9, 30)).items["AAPL"]
    assert bars.bars[0].date == date(2020, 9, 1) and bars.bars[-1].date == date(2020, 9, 30)
    assert bars.splits == []


def test_daily_bars_drop_null_closes(transport, provider):
    chart = load(SPLIT_CHART)
    result = chart["chart"]["result"][0]
    result["indicators"]["quote"][0]["close"][3] = None
    result["indicators"]["adjclose"][0]["adjclose"][3] = None
    transport.charts["XNUL"] = chart
    dropped_day = datetime.fromtimestamp(result["timestamp"][3], tz=UTC).date()

    bars = provider.fetch_daily_bars(["XNUL"], date(2020, 8, 31), date(2020, 11, 6))

    days = [bar.date for bar in bars.items["XNUL"].bars]
    assert len(days) == 48 and dropped_day not in days


def test_daily_bars_reverse_split_ratio(transport, provider):
    chart = load(SPLIT_CHART)
    split = chart["chart"]["result"][0]["events"]["splits"]["1598880600"]
    split.update(numerator=1, denominator=10, splitRatio="1:10")
    transport.charts["XREV"] = chart
    bars = provider.fetch_daily_bars(["XREV"], date(2020, 8, 31), date(2020, 9, 4))
    assert bars.items["XREV"].splits[0].ratio == Decimal("0.1")


def test_daily_bars_crypto_every_day(transport, provider):
    bars = provider.fetch_daily_bars(["BTC-USD"], date(2020, 1, 1), date(2020, 1, 3))
    assert [bar.date for bar in bars.items["BTC-USD"].bars] == [
        date(2020, 1, 1),
        date(2020, 1, 2),
        date(2020, 1, 3),
    ]


def test_daily_bars_unknown_symbol(transport, provider):
    # Yahoo's recorded 404 "No data found, symbol may be delisted".
    batch = provider.fetch_daily_bars(["ZZZZ", "AAPL"], date(2020, 8, 31), date(2020, 11, 6))
    assert isinstance(batch.errors["ZZZZ"], UnknownSymbol)
    assert len(batch.items["AAPL"].bars) == 49


def test_daily_bars_delisted_symbol_with_a_known_time_zone(transport, provider):
    # With the time zone already cached, the recorded 404 answers the history request itself.
    from yfinance import cache

    cache.get_tz_cache().store("SI", "America/New_York")
    batch = provider.fetch_daily_bars(["SI"], date(2020, 1, 1), date(2020, 1, 3))
    assert isinstance(batch.errors["SI"], UnknownSymbol)
    assert "delisted" in str(batch.errors["SI"])
    assert transport.count("/v10/finance/quoteSummary/") == 0


def test_daily_bars_before_the_listing_are_empty(transport, provider):
    # Yahoo's 400 for a range without data (shape of the recorded chart errors).
    no_data = {
        "chart": {
            "result": None,
            "error": {
                "code": "Bad Request",
                "description": "Data doesn't exist for startDate = 946706400, endDate = 946965600",
            },
        }
    }
    transport.override(
        "/v8/finance/chart/AAPL",
        # Only the ranged request: yfinance's time-zone lookup (range=1d) gets the recording.
        lambda request: Reply(status=400, body=no_data) if "period1" in request.url else None,
    )
    batch = provider.fetch_daily_bars(["AAPL"], date(2000, 1, 1), date(2000, 1, 3))
    assert batch.items["AAPL"].bars == [] and not batch.errors


def test_daily_bars_all_failing_is_a_failed_call(transport, provider):
    transport.override("/v8/finance/chart/", Reply(error=requests.exceptions.ReadTimeout("slow")))
    with pytest.raises(ProviderUnavailable):
        provider.fetch_daily_bars(["AAPL", "QQQ"], date(2019, 6, 3), date(2019, 6, 5))


def test_daily_bars_rate_limited_stops_early(transport, provider):
    transport.override("/v8/finance/chart/", Reply(status=429, headers={"Retry-After": "60"}))
    with pytest.raises(RateLimited) as caught:
        provider.fetch_daily_bars(["AAPL", "QQQ", "BTC-USD"], date(2020, 1, 1))
    assert caught.value.retry_after == 60
    assert transport.count("/v8/finance/chart/QQQ") == 0


def test_daily_bars_start_after_end(transport, provider):
    bars = provider.fetch_daily_bars(["AAPL"], date(2020, 9, 2), date(2020, 9, 1))
    assert bars.items["AAPL"].bars == []
    assert transport.requests == []


# -- search ----------------------------------------------------------------------------------------


def test_search(transport, provider):
    hits = provider.search("AAPL")
    assert [(h.symbol, h.kind) for h in hits] == [("AAPL", "equity"), ("AAPU", "etf")]
    assert hits[0].name == "Apple Inc." and hits[0].exchange == "NASDAQ"
    assert quote_params(transport.requests[-1])["q"] == "AAPL"


def test_search_nothing_found(transport, provider):
    assert provider.search("no such company") == []
    assert provider.search("   ") == []
    assert transport.count("/v1/finance/search") == 1


def test_search_rate_limited(transport, provider):
    transport.override("/v1/finance/search", Reply(status=429, headers={"Retry-After": "5"}))
    with pytest.raises(RateLimited) as caught:
        provider.search("IREN")
    assert caught.value.retry_after == 5


def test_search_server_error(transport, provider):
    transport.override("/v1/finance/search", Reply(status=503, body="down"))
    with pytest.raises(ProviderUnavailable):
        provider.search("WULF")


# -- precision: every recorded daily chart -----------------------------------------------------


DAILY_CHARTS = {
    # symbol served, recording, range asked for
    "AAPL": (SPLIT_CHART, date(2020, 8, 31), date(2020, 11, 6)),
    "XJAN": ("chart_AAPL_2020-01-01_to_2020-01-03_1d.json", date(2020, 1, 1), date(2020, 1, 3)),
    "BTC-USD": (
        "chart_BTC-USD_2020-01-01_to_2020-01-03_1d.json",
        date(2020, 1, 1),
        date(2020, 1, 3),
    ),
    "QQQ": ("chart_QQQ_2020-01-01_to_2020-01-03_1d.json", date(2020, 1, 1), date(2020, 1, 3)),
}


def six_places(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.000001"))


@pytest.mark.parametrize("symbol", list(DAILY_CHARTS))
def test_bars_equal_the_payload_to_six_decimals(transport, provider, symbol):
    name, start, end = DAILY_CHARTS[symbol]
    transport.charts[symbol] = name
    result = load(name)["chart"]["result"][0]
    quote, adjusted = result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]
    expected = [
        (
            six_places(quote["open"][i]),
            six_places(quote["high"][i]),
            six_places(quote["low"][i]),
            six_places(quote["close"][i]),
            six_places(adjusted["adjclose"][i]),
            quote["volume"][i],
        )
        for i in range(len(result["timestamp"]))
    ]

    bars = provider.fetch_daily_bars([symbol], start, end).items[symbol].bars

    got = [(b.open, b.high, b.low, b.close, b.adj_close, b.volume) for b in bars]
    assert got == expected
    assert len(got) == {"AAPL": 49, "XJAN": 1, "BTC-USD": 3, "QQQ": 1}[symbol]


def test_bars_keep_the_digits_of_a_restated_price(transport, provider):
    # A split-restated close such as 13.237 must not become 13.24.
    chart = load("chart_QQQ_2020-01-01_to_2020-01-03_1d.json")
    chart["chart"]["result"][0]["indicators"]["quote"][0]["close"] = [13.237499618530273]
    transport.charts["XRST"] = chart
    bars = provider.fetch_daily_bars(["XRST"], date(2020, 1, 1), date(2020, 1, 3)).items["XRST"]
    assert bars.bars[0].close == Decimal("13.2375")
