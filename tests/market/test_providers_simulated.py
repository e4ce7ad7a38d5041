"""The simulated provider: deterministic, session-aware, consistent between quotes and bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from market.providers.base import CLOSED, POST, PRE, REGULAR, UnknownSymbol
from market.providers.simulated import SimulatedProvider

NEW_YORK = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def provider_at(moment: datetime, **kwargs) -> SimulatedProvider:
    return SimulatedProvider(now=lambda: moment, **kwargs)


def quote(moment: datetime, symbol: str = "IREN"):
    return provider_at(moment).fetch_quotes([symbol]).items[symbol]


def test_same_symbol_same_minute_gives_same_quote():
    first = quote(ny(2025, 11, 25, 11, 15, 3))
    second = quote(ny(2025, 11, 25, 11, 15, 59))
    assert first == second
    assert first.source == "simulated"


def test_price_changes_every_minute_in_the_regular_session():
    start = ny(2025, 11, 25, 10, 0)
    prices = [quote(start + timedelta(minutes=i)).price for i in range(30)]
    # Two-decimal rounding may repeat a price now and then, but the walk moves.
    assert len(set(prices)) > 20


def test_symbols_get_different_stable_base_prices():
    moment = ny(2025, 11, 25, 11, 0)
    batch = provider_at(moment).fetch_quotes(["IREN", "WULF", "CIFR", "CLSK"])
    prices = {q.price for q in batch.items.values()}
    assert len(prices) == 4
    assert all(Decimal("0.1") < p < Decimal(10_000) for p in prices)
    btc = quote(moment, "BTC-USD").price
    assert Decimal(20_000) < btc < Decimal(500_000)


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (ny(2025, 11, 25, 3, 59), CLOSED),
        (ny(2025, 11, 25, 4, 0), PRE),
        (ny(2025, 11, 25, 9, 29), PRE),
        (ny(2025, 11, 25, 9, 30), REGULAR),
        (ny(2025, 11, 25, 15, 59), REGULAR),
        (ny(2025, 11, 25, 16, 0), POST),
        (ny(2025, 11, 25, 19, 59), POST),
        (ny(2025, 11, 25, 20, 0), CLOSED),
        (ny(2025, 11, 29, 11, 0), CLOSED),  # Saturday
        (ny(2025, 7, 15, 9, 45), REGULAR),  # daylight saving time
        (datetime(2025, 7, 15, 13, 45, tzinfo=UTC), REGULAR),  # = 09:45 EDT
        (datetime(2025, 12, 15, 14, 15, tzinfo=UTC), PRE),  # = 09:15 EST
    ],
)
def test_market_state_follows_new_york_time(moment, state):
    assert quote(moment).market_state == state


def test_crypto_is_always_regular():
    for moment in (ny(2025, 11, 29, 3, 0), ny(2025, 11, 25, 22, 0), ny(2025, 11, 25, 12, 0)):
        assert quote(moment, "BTC-USD").market_state == REGULAR


def test_previous_close_is_the_previous_session_close():
    tuesday = ny(2025, 11, 25, 11, 0)
    bars = provider_at(tuesday).fetch_daily_bars(["IREN"], date(2025, 11, 20)).items["IREN"]
    closes = {bar.date: bar.close for bar in bars.bars}
    regular = quote(tuesday)
    assert regular.previous_close == closes[date(2025, 11, 24)]
    assert regular.price == closes[date(2025, 11, 25)]  # today's bar is the live one

    monday_after = quote(ny(2025, 11, 24, 18, 0))
    assert monday_after.price == closes[date(2025, 11, 24)]
    assert monday_after.previous_close == closes[date(2025, 11, 21)]  # Friday
    assert monday_after.post_market_price is not None
    assert monday_after.pre_market_price is None


def test_pre_market_keeps_the_last_close_as_price():
    tuesday_pre = ny(2025, 11, 25, 8, 0)
    bars = provider_at(tuesday_pre).fetch_daily_bars(["IREN"], date(2025, 11, 20)).items["IREN"]
    closes = {bar.date: bar.close for bar in bars.bars}
    pre = quote(tuesday_pre)
    assert pre.price == closes[date(2025, 11, 24)]
    assert pre.previous_close == closes[date(2025, 11, 21)]
    assert pre.pre_market_price is not None and pre.post_market_price is None
    assert pre.pre_market_price != quote(ny(2025, 11, 25, 8, 1)).pre_market_price
    assert max(closes) == date(2025, 11, 24)  # no bar before today's open


def test_weekend_quote_is_fridays_close():
    saturday = quote(ny(2025, 11, 29, 12, 0))
    sunday = quote(ny(2025, 11, 30, 12, 0))
    friday_night = quote(ny(2025, 11, 28, 21, 0))
    assert saturday == sunday == friday_night
    assert saturday.provider_time == ny(2025, 11, 28, 16, 0).astimezone(UTC)


def test_quote_fields_are_consistent():
    q = quote(ny(2025, 11, 25, 13, 7))
    assert q.day_low <= q.price <= q.day_high
    assert q.market_cap == (q.price * q.shares_outstanding).quantize(Decimal(1))
    assert q.currency == "USD"
    assert q.volume > 0
    assert q.provider_time == ny(2025, 11, 25, 13, 7).astimezone(UTC)
    later = quote(ny(2025, 11, 25, 15, 7))
    assert later.volume > q.volume  # the day's volume accumulates


def test_unknown_and_invalid_symbols_go_to_errors():
    batch = provider_at(ny(2025, 11, 25, 11, 0)).fetch_quotes(["IREN", "ZZTOP", "not a symbol"])
    assert set(batch.items) == {"IREN"}
    assert set(batch.errors) == {"ZZTOP", "not a symbol"}
    assert isinstance(batch.errors["ZZTOP"], UnknownSymbol)
    assert batch.errors["ZZTOP"].symbol == "ZZTOP"


def test_two_thousand_symbols_in_one_call():
    symbols = [f"S{i:04d}" for i in range(2000)] + ["BTC-USD"]
    batch = provider_at(ny(2025, 11, 25, 11, 0)).fetch_quotes(symbols)
    assert len(batch.items) == 2001 and not batch.errors


def test_naive_clock_is_refused():
    with pytest.raises(ValueError, match="aware"):
        SimulatedProvider(now=lambda: datetime(2025, 11, 25, 11, 0)).fetch_quotes(["IREN"])


def test_profiles():
    p = provider_at(ny(2025, 11, 25, 11, 0), names={"IREN": "IREN Ltd"})
    batch = p.fetch_profiles(["IREN", "WULF", "BTC-USD", "ZZX"])
    iren, wulf, btc = batch.items["IREN"], batch.items["WULF"], batch.items["BTC-USD"]
    assert iren.name == "IREN Ltd" and wulf.name == "WULF (simulated)"
    assert iren.kind == "equity" and btc.kind == "crypto"
    assert iren.shares_outstanding == quote(ny(2025, 11, 25, 11, 0)).shares_outstanding
    assert iren.enterprise_value > 0
    assert btc.shares_outstanding is None
    assert all(profile.source == "simulated" for profile in batch.items.values())
    assert isinstance(batch.errors["ZZX"], UnknownSymbol)


def test_daily_bars_on_business_days():
    p = provider_at(ny(2025, 11, 25, 18, 0))
    bars = p.fetch_daily_bars(["IREN"], date(2025, 11, 1), date(2025, 11, 30)).items["IREN"]
    days = [bar.date for bar in bars.bars]
    assert days[0] == date(2025, 11, 3) and days[-1] == date(2025, 11, 25)  # none in the future
    assert all(day.weekday() < 5 for day in days)
    assert len(days) == 17
    for bar in bars.bars:
        assert bar.adj_close == bar.close
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume > 0
    assert bars.splits == []


def test_five_years_of_daily_bars_stay_in_a_sensible_range():
    p = provider_at(ny(2025, 11, 25, 18, 0))
    bars = p.fetch_daily_bars(["IREN"], date(2020, 11, 25)).items["IREN"].bars
    assert 1250 < len(bars) < 1310
    closes = [bar.close for bar in bars]
    assert max(closes) / min(closes) < 1000


def test_crypto_bars_every_day_and_close_is_next_days_previous_close():
    p = provider_at(datetime(2025, 11, 30, 12, 0, tzinfo=UTC))
    bars = p.fetch_daily_bars(["BTC-USD"], date(2025, 11, 27)).items["BTC-USD"].bars
    assert [bar.date for bar in bars] == [date(2025, 11, d) for d in (27, 28, 29, 30)]
    assert quote(datetime(2025, 11, 30, 12, 0, tzinfo=UTC), "BTC-USD").previous_close == (
        bars[-2].close
    )


def test_configured_splits_are_reported_in_range():
    p = provider_at(
        ny(2025, 11, 25, 18, 0),
        splits={"IREN": [(date(2025, 6, 2), Decimal(4)), (date(2019, 1, 2), Decimal("0.1"))]},
    )
    batch = p.fetch_daily_bars(["IREN", "WULF"], date(2025, 1, 1))
    assert [(s.date, s.ratio) for s in batch.items["IREN"].splits] == [
        (date(2025, 6, 2), Decimal(4))
    ]
    assert batch.items["WULF"].splits == []


def test_bars_with_start_after_end_are_empty():
    p = provider_at(ny(2025, 11, 25, 18, 0))
    assert (
        p.fetch_daily_bars(["IREN"], date(2025, 11, 20), date(2025, 11, 10)).items["IREN"].bars
        == []
    )


def test_search():
    p = SimulatedProvider(names={"IREN": "IREN Ltd", "WULF": "TeraWulf Inc."})
    hits = p.search("iren")
    assert hits[0].symbol == "IREN" and hits[0].name == "IREN Ltd" and hits[0].kind == "equity"
    assert [hit.symbol for hit in p.search("terawulf")] == ["TERAWULF", "WULF"]
    assert p.search("BTC-USD")[0].kind == "crypto"
    assert p.search("ZZTOP") == []
    assert p.search("") == []
    assert p.search("far too long a symbol") == []


def test_always_open_demo_market_moves_equities_every_minute_at_night():
    from datetime import UTC, datetime, timedelta

    from market.providers.simulated import SimulatedProvider

    saturday_night = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    clock = {"now": saturday_night}
    demo = SimulatedProvider(now=lambda: clock["now"], always_open=True)
    closed = SimulatedProvider(now=lambda: clock["now"])
    first = demo.fetch_quotes(["IREN"]).items["IREN"]
    first_closed = closed.fetch_quotes(["IREN"]).items["IREN"]
    clock["now"] = saturday_night + timedelta(minutes=1)
    second = demo.fetch_quotes(["IREN"]).items["IREN"]
    second_closed = closed.fetch_quotes(["IREN"]).items["IREN"]
    assert first.market_state == "regular"
    assert first.price != second.price
    assert first_closed.market_state == "closed"
    assert first_closed.price == second_closed.price


def test_fx_rates_are_quoted_round_the_clock_without_a_market_cap():
    from datetime import UTC, datetime

    from market.providers.simulated import SimulatedProvider

    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    provider = SimulatedProvider(now=lambda: saturday)
    rate = provider.fetch_quotes(["CADUSD=X"]).items["CADUSD=X"]
    assert rate.market_state == "regular"
    assert rate.market_cap is None and rate.shares_outstanding is None
    assert Decimal("0.5") < rate.price < Decimal("1.0")  # one CAD in USD starts near 0.72
    profile = provider.fetch_profiles(["CADUSD=X"]).items["CADUSD=X"]
    assert profile.kind == "fx"
    assert provider.search("CADUSD=X")[0].kind == "fx"
