"""Sector analytics on hand-built series whose answers are known."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from market import analytics
from market.analytics import Lean, Relation

D = Decimal


def calendar_days(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(count)]


def weekdays(days: list[dt.date]) -> list[dt.date]:
    return [d for d in days if d.weekday() < 5]


def bitcoin_series(days: list[dt.date]) -> dict[dt.date, Decimal]:
    """A Bitcoin close for every calendar day, weekends included, that wiggles irregularly."""
    closes = {}
    price = D("60000")
    for i, day in enumerate(days):
        step = D((i * 37) % 11 - 5) / D(100)  # -5 % .. +5 %
        price = (price * (1 + step)).quantize(D("0.01"))
        closes[day] = price
    return closes


# --- YTD ---------------------------------------------------------------------------------------


def ytd(price: Decimal, closes: list[tuple[dt.date, Decimal]], year: int) -> Decimal | None:
    """The YTD change the pages show: the price against the base close of the year."""
    return analytics.change_percent(price, analytics.ytd_base_close(closes, year))


def test_ytd_uses_the_last_close_of_the_previous_year_across_a_weekend():
    # 2022-12-30 was a Friday; New Year's Day fell on a Sunday and 2 January was a holiday.
    closes = [
        (dt.date(2022, 12, 29), D("9.00")),
        (dt.date(2022, 12, 30), D("10.00")),
        (dt.date(2023, 1, 3), D("11.00")),
        (dt.date(2023, 1, 4), D("12.50")),
    ]
    assert analytics.ytd_base_close(closes, 2023) == D("10.00")
    assert ytd(D("12.50"), closes, 2023) == D("25")
    # In the previous year, the base is that year's predecessor: none here.
    assert analytics.ytd_base_close(closes, 2022) is None
    assert ytd(D("12.50"), closes, 2022) is None


def test_ytd_of_a_listing_of_this_year_is_unknown():
    closes = [(dt.date(2026, 3, 2), D("20")), (dt.date(2026, 3, 3), D("22"))]
    assert ytd(D("22"), closes, 2026) is None


def test_ytd_with_a_split_in_adjusted_closes():
    # A 1-for-10 reverse split in March: the raw close jumps from 1.20 to 12.00, but the
    # adjusted closes are on today's share basis, so the base of the year is 10 x 1.00.
    raw = [(dt.date(2025, 12, 31), D("1.00")), (dt.date(2026, 3, 2), D("1.20"))]
    adjusted = [(dt.date(2025, 12, 31), D("10.00")), (dt.date(2026, 3, 2), D("12.00"))]
    price_now = D("15.00")
    assert ytd(price_now, adjusted, 2026) == D("50")
    # The raw closes would claim a +1,400 % year.
    assert ytd(price_now, raw, 2026) == D("1400")


def test_change_percent_guards():
    assert analytics.change_percent(D("5"), D("4")) == D("25")
    assert analytics.change_percent(None, D("4")) is None
    assert analytics.change_percent(D("5"), D("0")) is None


# --- 52-week range -----------------------------------------------------------------------------


def test_fifty_two_week_range_uses_highs_and_lows_inside_the_window_only():
    as_of = dt.date(2026, 6, 30)
    bars = [
        (dt.date(2025, 6, 30), D("99"), D("1"), D("50")),  # 365 days before: outside
        (dt.date(2025, 7, 1), D("30"), D("8"), D("20")),  # first day inside
        (dt.date(2026, 1, 15), D("45.5"), D("25"), D("40")),
        (dt.date(2026, 6, 30), None, None, D("33")),  # no high/low: its close counts
        (dt.date(2026, 7, 1), D("500"), D("0.5"), D("100")),  # after as_of: outside
    ]
    price_range = analytics.fifty_two_week_range(bars, as_of)
    assert price_range == analytics.PriceRange(low=D("8"), high=D("45.5"))
    assert price_range.position_percent(D("8")) == 0
    assert price_range.position_percent(D("45.5")) == 100
    assert price_range.position_percent(D("100")) == 100
    assert price_range.position_percent(D("26.75")) == 50
    assert analytics.fifty_two_week_range([], as_of) is None


# --- Returns, correlation and beta -------------------------------------------------------------


def test_daily_returns():
    returns = analytics.daily_returns([D("10"), D("11"), D("9.9")])
    assert returns.tolist() == pytest.approx([0.1, -0.1])
    assert analytics.daily_returns([D("10")]).size == 0


def test_a_stock_that_is_bitcoin_times_two_has_correlation_one_and_beta_two():
    days = calendar_days(dt.date(2025, 1, 1), 200)
    btc = bitcoin_series(days)
    trading = weekdays(days)
    # The stock's return on each trading day is twice Bitcoin's move since the previous trading
    # day (so Monday carries Bitcoin's weekend).
    stock = {trading[0]: D("20")}
    for previous, day in zip(trading, trading[1:], strict=False):
        btc_return = btc[day] / btc[previous] - 1
        stock[day] = stock[previous] * (1 + 2 * btc_return)
    result = analytics.relation(stock.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert result.observations == analytics.CORRELATION_WINDOW
    assert result.correlation == pytest.approx(1.0)
    assert result.beta == pytest.approx(2.0)


def test_matching_dates_without_carrying_the_weekend_would_not_see_the_correlation():
    # The same stock, but compared with Bitcoin's own day-to-day returns on the shared dates:
    # Monday's Bitcoin return would be Sunday-to-Monday only, and the fit breaks. This is what
    # align_to_trading_dates prevents.
    days = calendar_days(dt.date(2025, 1, 1), 200)
    btc = bitcoin_series(days)
    trading = weekdays(days)
    stock = {trading[0]: D("20")}
    for previous, day in zip(trading, trading[1:], strict=False):
        stock[day] = stock[previous] * (btc[day] / btc[previous])
    naive_btc_returns = {
        day: float(btc[day] / btc[day - dt.timedelta(days=1)] - 1) for day in trading[1:]
    }
    stock_returns = {
        day: float(stock[day] / stock[prev] - 1)
        for prev, day in zip(trading, trading[1:], strict=False)
    }
    import numpy as np

    naive = np.corrcoef(
        [stock_returns[d] for d in trading[1:]], [naive_btc_returns[d] for d in trading[1:]]
    )[0, 1]
    assert naive < 0.95
    aligned = analytics.relation(stock.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert aligned.correlation == pytest.approx(1.0)
    assert aligned.beta == pytest.approx(1.0)


def test_a_series_moving_against_the_benchmark_has_correlation_minus_one():
    days = weekdays(calendar_days(dt.date(2025, 1, 1), 200))
    bench = {day: D(100 + (i % 7) * 3) for i, day in enumerate(days)}
    stock = {days[0]: D("50")}
    for previous, day in zip(days, days[1:], strict=False):
        stock[day] = stock[previous] * (1 - (bench[day] / bench[previous] - 1))
    result = analytics.relation(stock.items(), bench.items(), benchmark_symbol="NVDA")
    assert result.correlation == pytest.approx(-1.0)
    assert result.beta == pytest.approx(-1.0)


def test_a_flat_series_has_no_correlation_and_zero_beta():
    days = calendar_days(dt.date(2025, 1, 1), 200)
    btc = bitcoin_series(days)
    flat = {day: D("12.34") for day in weekdays(days)}
    result = analytics.relation(flat.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert result.observations == analytics.CORRELATION_WINDOW
    assert result.correlation is None
    assert result.beta == 0.0
    # And against a flat benchmark, neither is defined.
    against_flat = analytics.relation(btc.items(), flat.items(), benchmark_symbol="X")
    assert against_flat.correlation is None
    assert against_flat.beta is None


def test_a_split_in_adjusted_closes_does_not_break_the_correlation():
    days = calendar_days(dt.date(2025, 1, 1), 200)
    btc = bitcoin_series(days)
    trading = weekdays(days)
    adjusted = {trading[0]: D("20")}
    for previous, day in zip(trading, trading[1:], strict=False):
        adjusted[day] = adjusted[previous] * (btc[day] / btc[previous])
    # A 10-for-1 split 40 trading days ago: the raw closes before it are ten times higher.
    split_index = len(trading) - 40
    raw = {
        day: close * (10 if i < split_index else 1)
        for i, (day, close) in enumerate(sorted(adjusted.items()))
    }
    on_adjusted = analytics.relation(adjusted.items(), btc.items(), benchmark_symbol="BTC-USD")
    on_raw = analytics.relation(raw.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert on_adjusted.correlation == pytest.approx(1.0)
    assert on_raw.correlation < 0.9


def test_too_few_returns_is_not_enough_data():
    days = calendar_days(dt.date(2025, 1, 1), 60)
    btc = bitcoin_series(days)
    stock = {day: btc[day] / 1000 for day in weekdays(days)}  # ~42 trading days
    result = analytics.relation(stock.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert result.observations < analytics.MIN_OBSERVATIONS
    assert result.correlation is None and result.beta is None


def test_only_the_last_ninety_trading_days_count():
    days = calendar_days(dt.date(2025, 1, 1), 300)
    btc = bitcoin_series(days)
    trading = weekdays(days)
    # Anti-correlated for the first part, perfectly correlated for the last 90 returns.
    stock = {trading[0]: D("20")}
    for i, (previous, day) in enumerate(zip(trading, trading[1:], strict=False)):
        move = btc[day] / btc[previous] - 1
        sign = 1 if i >= len(trading) - 1 - analytics.CORRELATION_WINDOW else -1
        stock[day] = stock[previous] * (1 + sign * move)
    result = analytics.relation(stock.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert result.correlation == pytest.approx(1.0)


def test_a_long_gap_in_the_benchmark_drops_those_dates():
    stock = [(dt.date(2025, 3, 3), D("1")), (dt.date(2025, 3, 20), D("2"))]
    bench = [(dt.date(2025, 3, 1), D("5")), (dt.date(2025, 3, 4), D("6"))]
    dates, stock_closes, bench_closes = analytics.align_to_trading_dates(stock, bench)
    assert dates == [dt.date(2025, 3, 3)]
    assert bench_closes == [D("5")]


# --- The label ---------------------------------------------------------------------------------


def rel(symbol: str, correlation: float | None) -> Relation:
    return Relation(symbol, correlation, None if correlation is None else 1.0, 90)


@pytest.mark.parametrize(
    ("btc", "nvda", "smh", "lean"),
    [
        (0.30, 0.70, 0.60, Lean.AI),
        (0.80, 0.40, 0.30, Lean.BITCOIN),
        (0.50, 0.53, 0.51, Lean.MIXED),  # AI average 0.52 leads by 0.02 only
        (0.10, 0.15, 0.05, Lean.NEITHER),
        (None, 0.70, 0.60, Lean.UNKNOWN),
        (0.50, None, None, Lean.UNKNOWN),
        (0.50, 0.70, None, Lean.AI),  # one AI benchmark is enough
    ],
)
def test_trades_like(btc, nvda, smh, lean):
    label = analytics.trades_like(rel("BTC-USD", btc), [rel("NVDA", nvda), rel("SMH", smh)])
    assert label.lean == lean
    assert label.text == analytics.LEAN_TEXT[lean]


def test_label_texts_and_sort_value():
    ai = analytics.trades_like(rel("BTC-USD", 0.2), [rel("NVDA", 0.8)])
    assert ai.text == "trades more like AI infrastructure"
    assert ai.sort_value == pytest.approx(0.6)
    btc = analytics.trades_like(rel("BTC-USD", 0.9), [rel("NVDA", 0.1), rel("SMH", 0.3)])
    assert btc.text == "trades more like Bitcoin"
    assert btc.ai_correlation == pytest.approx(0.2)
    assert analytics.trades_like(None, []).text == "not enough data"
    assert analytics.trades_like(None, []).sort_value is None


# --- Milestones, totals, movers ----------------------------------------------------------------


MILESTONES = [25_000_000_000, 50_000_000_000, 100_000_000_000, 150_000_000_000]


def test_next_milestone_and_how_far_it_is():
    milestone = analytics.next_milestone(D("90e9"), MILESTONES)
    assert milestone.target == D("100e9")
    assert milestone.to_go_percent.quantize(D("0.01")) == D("11.11")
    assert milestone.reached_percent == D("90")


def test_a_total_exactly_on_a_milestone_aims_at_the_next_one():
    assert analytics.next_milestone(D("50e9"), MILESTONES).target == D("100e9")


def test_no_milestone_above_the_total_or_no_total():
    assert analytics.next_milestone(D("151e9"), MILESTONES) is None
    assert analytics.next_milestone(None, MILESTONES) is None
    assert analytics.next_milestone(D("0"), MILESTONES) is None


def test_total_change():
    result = analytics.total_change([(D("110"), D("10")), (D("90"), D("-10")), (D("50"), None)])
    assert result.total == D("250")
    assert result.change == D("0")
    assert result.percent == D("0")
    rising = analytics.total_change([(D("105"), D("5")), (None, D("3"))])
    assert rising.percent == D("5")
    assert analytics.total_change([]).percent is None


def test_movers():
    changes = {"A": D("5"), "B": D("-2"), "C": None, "D": D("9"), "E": D("0"), "F": D("-7")}
    result = analytics.movers(changes, key=changes.get, count=2)
    assert result.gainers == ["D", "A"]
    assert result.losers == ["F", "B"]
    one = analytics.movers(changes, key=changes.get, count=1)
    assert one.gainers == ["D"] and one.losers == ["F"]


def test_correlation_is_a_real_number_in_range():
    days = calendar_days(dt.date(2025, 1, 1), 200)
    btc = bitcoin_series(days)
    other = {day: D(100 + (i * 13) % 17) for i, day in enumerate(weekdays(days))}
    result = analytics.relation(other.items(), btc.items(), benchmark_symbol="BTC-USD")
    assert result.correlation is not None
    assert math.isfinite(result.correlation) and -1 <= result.correlation <= 1
