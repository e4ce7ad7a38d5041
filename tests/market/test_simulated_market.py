"""The simulated market imitates the real one: sourced reference prices, a Bitcoin and an AI
factor in each segment's proportions, and no price for a symbol outside the universe."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from market import analytics
from market.providers import UnknownSymbol, get_provider
from market.providers.simulated import SimulatedProvider
from market.providers.simulated_market import is_priced, loadings, universe


def test_a_typo_or_a_symbol_outside_the_universe_gets_no_price(settings):
    settings.MARKET_DATA_PROVIDER = "simulated"
    provider = get_provider()
    batch = provider.fetch_quotes(["IREN", "IRNE", "USDEUR=X", "ETH-USD", "XYZEUR=X"])
    assert sorted(batch.items) == ["IREN", "USDEUR=X"]
    assert all(isinstance(batch.errors[s], UnknownSymbol) for s in ("IRNE", "ETH-USD", "XYZEUR=X"))
    assert [hit.symbol for hit in provider.search("IRNE")] == []
    assert is_priced("BTC-USD") and is_priced("CADUSD=X") and not is_priced("USDUSD=X")


def test_only_sourced_reference_points_are_in_the_universe_file():
    referenced = {s: e.reference for s, e in universe().items() if e.reference is not None}
    assert set(referenced) == {"BTC-USD", "QQQ"}
    assert all(r.source.startswith("Yahoo Finance") for r in referenced.values())


@pytest.mark.parametrize(
    ("symbol", "at", "price", "market_cap"),
    [
        # The v7 quote recorded on 2025-02-17: $96,077.45 with 19,825,500 coins in circulation.
        ("BTC-USD", datetime(2025, 2, 17, 10, 53, tzinfo=UTC), "96077.45", "1904783484975"),
        # QQQ's close on 2025-02-19 (16:00 New York), seen after hours.
        ("QQQ", datetime(2025, 2, 19, 21, 0, tzinfo=UTC), "539.52", None),
    ],
)
def test_the_walk_passes_through_the_sourced_reference_price(symbol, at, price, market_cap):
    quote = SimulatedProvider(now=lambda: at).fetch_quotes([symbol]).items[symbol]
    assert quote.price == Decimal(price)
    if market_cap is not None:
        assert quote.market_cap == Decimal(market_cap)


def test_loadings_follow_the_segment():
    assert loadings("BTC-USD") == (1.0, 0.0, 0.0)
    bitcoin, ai, own = loadings("CLSK")  # a pure miner
    assert bitcoin > 0.8 and ai < 0.2
    bitcoin, ai, own = loadings("APLD")  # mostly AI/HPC now
    assert ai > 0.8 and bitcoin < 0.3
    assert loadings("NOPE") == (0.0, 0.0, 1.0)
    for symbol in ("IREN", "CLSK", "APLD", "NVDA"):
        assert sum(w * w for w in loadings(symbol)) == pytest.approx(1.0)


def _closes(provider, symbol):
    bars = provider.fetch_daily_bars([symbol], date(2025, 1, 2), date(2025, 10, 31)).items[symbol]
    return [(bar.date, bar.close) for bar in bars.bars]


def test_trades_like_gives_both_answers():
    """A pure miner trades like Bitcoin and an AI/HPC name like AI, over 90 days of returns."""
    provider = SimulatedProvider(now=lambda: datetime(2025, 11, 3, 21, 0, tzinfo=UTC))
    bitcoin = _closes(provider, "BTC-USD")
    ai = [_closes(provider, s) for s in ("NVDA", "SMH")]

    def lean(symbol):
        closes = _closes(provider, symbol)
        return analytics.trades_like(
            analytics.relation(closes, bitcoin, benchmark_symbol="BTC-USD"),
            [
                analytics.relation(closes, series, benchmark_symbol=s)
                for s, series in zip(("NVDA", "SMH"), ai, strict=True)
            ],
        ).lean

    assert lean("CLSK") == analytics.Lean.BITCOIN
    assert lean("MARA") == analytics.Lean.BITCOIN
    assert lean("APLD") == analytics.Lean.AI
    assert lean("WYFI") == analytics.Lean.AI


def test_equities_follow_the_new_york_calendar_and_hours():
    """Thanksgiving 2025 (Thursday 27 November) has no session: Friday's pre-market trades
    against Wednesday's close; the provider's state is the pages' session."""
    from market import sessions

    friday_pre = datetime(2025, 11, 28, 12, 0, tzinfo=UTC)  # 07:00 in New York
    quote = SimulatedProvider(now=lambda: friday_pre).fetch_quotes(["IREN"]).items["IREN"]
    assert quote.market_state == "pre" == sessions.session_state("equity", friday_pre)
    assert quote.pre_market_price is not None
    wednesday_close = datetime(2025, 11, 26, 21, 0, tzinfo=UTC)
    closes = SimulatedProvider(now=lambda: friday_pre).fetch_daily_bars(
        ["IREN"], date(2025, 11, 24), date(2025, 11, 28)
    )
    assert [bar.date for bar in closes.items["IREN"].bars] == [
        date(2025, 11, 24),
        date(2025, 11, 25),
        date(2025, 11, 26),
    ]
    assert quote.provider_time == wednesday_close
