"""What Yahoo's recorded streamer frames store in a quote, worked out by hand from each frame: the
price as the frame has it (not rounded to its price hint), the frame's own change and the close it
is measured from, a day range of the tick's own session, the extended-hours price in its session
(overnight trading before the open is pre-market), and Yahoo's own session state from the batch
refresh. Frames: tests/data/yahoo-stream/SOURCES.md."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from market import services
from market.models import Feed, Instrument, MarketState, Quote
from market.providers.yahoo import YahooProvider
from market.providers.yahoo_stream import decode_frame
from market.sessions import NEW_YORK
from market.streaming.store import write_ticks
from tests.factories import InstrumentFactory
from tests.market.stream_server import frame, recorded_frames
from tests.market.yahoo_transport import YahooTransport, recorded_yfinance, session_for

pytestmark = pytest.mark.django_db

TSLA_POST = "TSLA, post-market"
TSLA_REGULAR = "TSLA, regular session"
AAPL_OVERNIGHT = "AAPL, overnight trading"
AAPL_PRE = "AAPL, pre-market"
AAPL_0943 = "AAPL, regular session, 09:43"
MSFT_RANGE = "MSFT, regular session, with the day's range"
MSFT_LATER = "MSFT, regular session, 5 minutes later"
# The shares Yahoo's recorded AAPL market cap implies (3,674,405,863,424 / 244.6).
AAPL_CAP_SHARES = Decimal("15022100831.6599")


def stream(what: str) -> Quote:
    """Write the recorded frame `what` as the stream does; the stored quote of its symbol."""
    tick = decode_frame(frame(what))
    result = write_ticks([tick], source="yahoo")
    assert (result.stale, result.unknown) == (0, 0)
    return Quote.objects.get(instrument__symbol=tick.symbol)


def fields(quote: Quote, *names: str) -> tuple:
    return tuple(getattr(quote, name) for name in names)


REGULAR_FIELDS = ("price", "previous_close", "change", "change_percent", "day_high", "day_low")
PRE_FIELDS = ("pre_market_price", "pre_market_change", "pre_market_change_percent")
POST_FIELDS = ("post_market_price", "post_market_change", "post_market_change_percent")


@pytest.fixture
def batch_refreshed_aapl():
    """AAPL as the batch refresh stores Yahoo's recorded quote of Presidents' Day 2025 (CLOSED:
    the close of Friday 2025-02-14, 244.60, range 241.00-245.41, after hours 244.64), refreshed
    on a Tuesday at 11:00, when New York's clock says the regular session is open."""
    InstrumentFactory(symbol="AAPL", name="Apple", shares_outstanding=1_000)
    with recorded_yfinance():
        provider = YahooProvider(session=session_for(YahooTransport()))
        run = services.refresh_quotes(
            provider=provider, now=datetime(2026, 11, 24, 11, 0, tzinfo=NEW_YORK), force=True
        )
    assert run.status == "ok"
    return Quote.objects.get(instrument__symbol="AAPL")


def test_every_recorded_price_is_the_frames_float_not_its_price_hint():
    for recorded in recorded_frames():
        # MessageToDict writes each 32-bit float as its shortest decimal.
        assert decode_frame(recorded["frame"]).price == Decimal(repr(recorded["decoded"]["price"]))
    tsla = decode_frame(frame(TSLA_POST))
    assert (tsla.price, tsla.change, tsla.change_percent) == (
        Decimal("407.4805"),  # price_hint 2 would make it 407.48
        Decimal("-0.339508"),
        Decimal("-0.0832"),
    )
    # The close the change is measured from: 407.4805 + 0.33950806 = 407.82000806, known to the
    # 4 decimals two 32-bit floats near 400 can tell.
    assert tsla.reference_price == Decimal("407.8200")
    msft = decode_frame(frame(MSFT_RANGE))
    assert (msft.day_high, msft.day_low) == (Decimal("180.1336"), Decimal("177.42"))


def test_a_first_tick_in_post_market_without_a_quote(db):
    InstrumentFactory(symbol="TSLA", name="Tesla", shares_outstanding=1_000)

    quote = stream(TSLA_POST)

    assert quote.market_state == MarketState.POST
    # The regular price is the close the after-hours move is measured from, not 407.4805, and
    # the day's regular change is not in the frame: left for the batch refresh.
    assert fields(quote, *REGULAR_FIELDS) == (Decimal("407.82"), None, None, None, None, None)
    assert fields(quote, *POST_FIELDS) == (
        Decimal("407.4805"),
        Decimal("-0.339508"),
        Decimal("-0.0832"),
    )
    assert fields(quote, *PRE_FIELDS) == (None, None, None)
    assert quote.market_cap == Decimal("407820.00")  # 1,000 shares at the close
    assert quote.provider_time == datetime(2026, 3, 11, 21, 14, 24, tzinfo=UTC)
    assert (quote.feed, quote.volume) == (Feed.STREAM, None)


def test_a_tick_on_a_later_day_starts_the_days_figures_afresh(db):
    InstrumentFactory(symbol="TSLA", name="Tesla", shares_outstanding=1_000)
    regular = stream(TSLA_REGULAR)  # 2021-04-07 13:10
    assert fields(regular, *REGULAR_FIELDS) == (
        Decimal("676.08"),
        Decimal("691.62"),  # 676.08 + 15.539978, to 4 decimals
        Decimal("-15.539978"),
        Decimal("-2.2469"),
        Decimal("676.08"),
        Decimal("676.08"),
    )
    assert regular.volume == 15605331

    quote = stream(TSLA_POST)  # 2026-03-11 17:14: nothing of 2021's session carries over

    assert fields(quote, *REGULAR_FIELDS) == (Decimal("407.82"), None, None, None, None, None)
    assert (quote.volume, quote.market_state) == (None, MarketState.POST)
    assert quote.post_market_price == Decimal("407.4805")


def test_the_batch_refresh_stores_yahoos_market_state_not_our_clocks(batch_refreshed_aapl):
    quote = batch_refreshed_aapl
    assert quote.market_state == MarketState.CLOSED  # Yahoo's marketState; our clock: regular
    assert fields(quote, *REGULAR_FIELDS) == (
        Decimal("244.6"),
        Decimal("241.53"),
        Decimal("3.07"),
        Decimal("1.2711"),  # 3.07 / 241.53
        Decimal("245.41"),
        Decimal("241"),
    )
    assert quote.post_market_price == Decimal("244.64")


def test_a_new_sessions_tick_replaces_the_old_range_and_after_hours_price(batch_refreshed_aapl):
    quote = stream(AAPL_0943)  # 2026-08-05 09:43, the batch quote is of 2025-02-14

    assert quote.market_state == MarketState.REGULAR
    assert fields(quote, *REGULAR_FIELDS) == (
        Decimal("307.2"),
        Decimal("309.38"),  # 307.2 + 2.1799927, to 4 decimals
        Decimal("-2.179993"),  # the frame's change, not 307.2 - 241.53
        Decimal("-0.7046"),
        Decimal("307.2"),  # not 245.41: that range is 2025-02-14's
        Decimal("307.2"),  # not 241.00
    )
    assert quote.volume == 5422202
    assert fields(quote, *POST_FIELDS) == (None, None, None)  # not 2025's 244.64
    assert quote.market_cap == Decimal("4614789375485.92")  # Yahoo's implied shares x 307.2


def test_overnight_trading_at_2am_is_pre_market_then_a_new_session(batch_refreshed_aapl):
    overnight = stream(AAPL_OVERNIGHT)  # 2025-12-11 02:07 New York time, market_hours 4

    assert overnight.market_state == MarketState.PRE
    assert fields(overnight, *PRE_FIELDS) == (
        Decimal("276.34"),
        Decimal("-2.440002"),
        Decimal("-0.8752"),
    )
    # Measured from the close of 2025-12-10 (276.34 + 2.4400024): the batch quote's figures of
    # 2025-02-14 (price, change, range, after hours) are another session's.
    assert fields(overnight, *REGULAR_FIELDS) == (Decimal("278.78"), None, None, None, None, None)
    assert fields(overnight, *POST_FIELDS) == (None, None, None)
    assert overnight.market_cap == Decimal("4187861269850.15")

    pre = stream(AAPL_PRE)  # 2026-05-22 04:10
    assert pre.market_state == MarketState.PRE
    assert fields(pre, "price", *PRE_FIELDS) == (
        Decimal("304.99"),
        Decimal("305.76"),
        Decimal("0.770020"),
        Decimal("0.2525"),
    )

    regular = stream(AAPL_0943)  # 2026-08-05 09:43
    assert fields(regular, "market_state", "price", "previous_close", *PRE_FIELDS) == (
        MarketState.REGULAR,
        Decimal("307.2"),
        Decimal("309.38"),
        None,
        None,
        None,
    )


def test_ticks_of_one_session_widen_its_range(db):
    InstrumentFactory(symbol="MSFT", name="Microsoft")
    first = stream(MSFT_RANGE)  # 11:00:09, with the frame's own range
    assert fields(first, "day_high", "day_low", "previous_close") == (
        Decimal("180.1336"),  # 4 decimals, though the frame's price_hint is 2
        Decimal("177.42"),
        Decimal("180.53"),
    )

    later = stream(MSFT_LATER)  # 11:05:20, no range in the frame

    assert fields(later, *REGULAR_FIELDS) == (
        Decimal("177.27"),
        Decimal("180.53"),
        Decimal("-3.259995"),
        Decimal("-1.8058"),
        Decimal("180.1336"),
        Decimal("177.27"),  # below the frame's low of 177.42
    )
    assert later.volume == 11018796


def test_a_regular_tick_keeps_a_stored_previous_close_its_change_agrees_with(db):
    # AAPL closed at 307.71 on 2020-05-15; the frame's 314.765 - 7.055023 = 307.709977.
    instrument = Instrument.objects.create(symbol="AAPL", name="Apple")
    friday = datetime(2020, 5, 15, 20, 0, tzinfo=UTC)
    Quote.objects.create(
        instrument=instrument,
        price=Decimal("307.71"),
        previous_close=Decimal("307.12345678"),
        market_state="post",
        provider_time=friday,
        fetched_at=friday,
    )
    quote = stream("AAPL, regular session, tick 1")
    assert fields(quote, "price", "previous_close", "change") == (
        Decimal("314.765"),
        Decimal("307.71"),  # Friday's close, from the frame: the stored one was Thursday's
        Decimal("7.055023"),
    )
    Quote.objects.filter(pk=quote.pk).update(previous_close=Decimal("307.71000001"))
    quote = stream("AAPL, regular session, tick 2")
    assert quote.previous_close == Decimal("307.71000001")  # agrees to 4 decimals: kept
