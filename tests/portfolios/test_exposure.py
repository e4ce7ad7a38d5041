"""Positions and exposure: values, P&L, FX conversion, segment/country/tier/concentration."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolios.selectors import cap_tier, exposure, portfolio_positions
from tests.factories import InstrumentFactory, MinerFactory, PortfolioFactory, QuoteFactory

D = Decimal
pytestmark = pytest.mark.django_db


def priced(
    symbol, price, *, segment=None, country="US", market_cap=None, currency="USD", kind="equity"
):
    instrument = InstrumentFactory(symbol=symbol, currency=currency, kind=kind)
    if segment:
        MinerFactory(instrument=instrument, segment=segment, country=country)
    quote = QuoteFactory(
        instrument=instrument, price=D(price), previous_close=D(price) - 1, currency=currency
    )
    if market_cap is not None:
        quote.market_cap = D(market_cap)
        quote.save()
    return instrument


@pytest.fixture
def book(user, trade, portfolio):
    iren = priced("IREN", "50", segment="pivot", country="AU", market_cap="15e9")
    cifr = priced("CIFR", "10", segment="pivot", market_cap="4e9")
    clsk = priced("CLSK", "10", segment="miner", market_cap="2.5e9")
    corz = priced("CORZ", "20", segment="ai_hpc", market_cap="500e6")
    smh = priced("SMH", "100", kind="etf")
    trade(iren, "buy", "2025-01-02", 40, "25")  # 2,000 now; cost 1,000
    trade(cifr, "buy", "2025-01-02", 100, "8")  # 1,000; cost 800
    trade(clsk, "buy", "2025-01-02", 100, "12")  # 1,000; cost 1,200
    trade(corz, "buy", "2025-01-02", 25, "20")  # 500
    trade(smh, "buy", "2025-01-02", 5, "80")  # 500; cost 400
    trade(clsk, "sell", "2025-02-02", 50, "14", fee="10")  # realized 700 - 10 - 600 = 90
    return portfolio


def test_positions_rows_and_totals(book):
    positions = portfolio_positions(book)
    rows = {r.symbol: r for r in positions.rows}
    assert [r.symbol for r in positions.rows] == ["IREN", "CIFR", "CLSK", "CORZ", "SMH"]
    iren = rows["IREN"]
    assert (
        iren.market_value,
        iren.cost_basis,
        iren.unrealized_pnl,
        iren.unrealized_pnl_percent,
    ) == (
        D("2000"),
        D("1000"),
        D("1000"),
        D("100"),
    )
    assert iren.day_change == D("40")  # 40 shares x 1.00
    assert iren.weight == D("2000") / D("4500") * 100
    clsk = rows["CLSK"]
    assert (clsk.quantity, clsk.market_value, clsk.realized_pnl) == (D("50"), D("500"), D("90"))
    totals = positions.totals
    assert totals.market_value == D("4500")
    assert totals.cost_basis == D("3300")  # 1000 + 800 + 600 + 500 + 400
    assert totals.unrealized_pnl == D("1200")
    assert totals.realized_pnl == D("90")
    assert totals.total_pnl == D("1290")
    assert totals.day_change == D("40") + D("100") + D("50") + D("25") + D("5")


def test_exposure_by_segment_country_tier_and_concentration(user, book):
    result = exposure(user, book)
    total = D("4500")
    assert result.total_value == total
    segments = {s.key: s.value for s in result.by_segment}
    assert [s.key for s in result.by_segment] == ["pivot", "ai_hpc", "miner", "other"]
    assert segments == {
        "pivot": D("3000"),
        "ai_hpc": D("500"),
        "miner": D("500"),
        "other": D("500"),
    }
    # "x% of your money is in AI/HPC pivoters": pivot + ai_hpc = 3,500 of 4,500
    assert result.ai_hpc_weight == D("3500") / total * 100
    countries = {s.label: s.value for s in result.by_country}
    assert countries == {
        "Australia": D("2000"),
        "United States": D("2000"),
        "Other (not a miner)": D("500"),
    }
    tiers = {s.key: s.symbols for s in result.by_tier}
    # The usual bands: IREN 15B is large, CIFR 4B and CLSK 2.5B mid, CORZ 500M small.
    assert tiers == {"large": ["IREN"], "mid": ["CIFR", "CLSK"], "small": ["CORZ"], "none": ["SMH"]}
    assert result.largest.key == "IREN" and result.largest.weight == D("2000") / total * 100
    assert [s.key for s in result.top3] == ["IREN", "CIFR", "CLSK"]
    assert result.top3_weight == D("3500") / total * 100


def test_exposure_across_portfolios_merges_one_instrument_and_converts_to_dollars(
    user, book, trade
):
    cad = PortfolioFactory(owner=user, name="TFSA", base_currency="CAD")
    hut = priced("HUT.TO", "30", segment="pivot", country="CA", market_cap="4e9", currency="CAD")
    trade(hut, "buy", "2025-01-02", 10, "20", into=cad)  # 300 CAD
    iren = book.holdings.get(instrument__symbol="IREN").instrument
    trade(iren, "buy", "2025-01-02", 10, "25", into=cad)  # 500 USD in a CAD portfolio
    usd_per_cad = priced("CADUSD=X", "0.7", kind="fx")
    priced("USDCAD=X", "1.4", kind="fx")
    assert usd_per_cad.symbol == "CADUSD=X"

    result = exposure(user)
    assert result.currency == "USD"
    positions = {s.key: s.value for s in result.positions}
    assert positions["IREN"] == D("2500")  # 2,000 + 500, one position
    assert positions["HUT.TO"] == D("210")  # 300 CAD x 0.7
    assert result.total_value == D("4500") + D("500") + D("210")

    cad_positions = portfolio_positions(cad)
    rows = {r.symbol: r for r in cad_positions.rows}
    assert rows["IREN"].market_value == D("700")  # 500 USD x 1.4
    assert rows["IREN"].converted and not rows["HUT.TO"].converted
    assert rows["HUT.TO"].tier == "mid"  # 4B CAD = 2.8B USD


def test_a_missing_fx_rate_leaves_the_position_out_of_the_totals(user, trade):
    eur = PortfolioFactory(owner=user, name="EUR", base_currency="EUR")
    iren = priced("IREN", "50", segment="pivot")
    trade(iren, "buy", "2025-01-02", 10, "25", into=eur)
    positions = portfolio_positions(eur)
    assert positions.missing_fx == ["USD"]
    assert positions.rows[0].market_value is None
    assert positions.totals.market_value == 0
    assert exposure(user, eur).is_empty


def test_the_exposure_pages(user_client, book):
    from django.urls import reverse

    page = user_client.get(
        reverse("portfolios:portfolio_exposure", args=[book.pk])
    ).content.decode()
    assert "78%" in page and "of your money is in AI/HPC pivoters" in page  # 3,500 / 4,500
    assert 'class="pf-donut"' in page and "style=" not in page
    page = user_client.get(reverse("portfolios:exposure")).content.decode()
    assert "Exposure across all portfolios" in page


@pytest.mark.parametrize(
    ("market_cap_usd", "tier"),
    [
        ("200e9", "mega"),
        ("199999999999.99", "large"),
        ("10e9", "large"),
        ("9999999999", "mid"),
        ("2e9", "mid"),
        ("1999999999", "small"),
        ("300e6", "small"),
        ("299999999", "micro"),
        ("1", "micro"),
        ("0", "none"),
        (None, "none"),
    ],
)
def test_market_cap_tiers_use_the_usual_bands(market_cap_usd, tier):
    value = None if market_cap_usd is None else D(market_cap_usd)
    assert cap_tier(value)[0] == tier
