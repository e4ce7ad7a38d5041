"""A miner's page, its chart data, the search and the 404 page, through the test client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config import versions
from market.models import DailyBar, Instrument, Miner, Quote
from tests.factories import DailyBarFactory, InstrumentFactory, MinerFactory, QuoteFactory
from tests.market import pages_data

D = Decimal
pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)  # Tuesday, 11:00 in New York
TODAY = dt.date(2026, 3, 10)
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def iren():
    instrument = InstrumentFactory(
        symbol="IREN",
        name="IREN Ltd",
        shares_outstanding=300_000_000,
        enterprise_value=D("12000000000"),
    )
    MinerFactory(
        instrument=instrument,
        segment=Miner.Segment.PIVOT,
        country="AU",
        hashrate_eh=D("50"),
        hashrate_as_of="2025-06-30",
        power_mw=D("4500"),
        power_kind="secured grid-connected",
        power_as_of="2026-02-05",
        hpc_contracted_mw=D("200"),
        hpc_counterparties="Microsoft",
        hpc_as_of="2025-11-03",
        notes="Microsoft contract, 5 years",
        sources="https://www.sec.gov/iren-10k\nhttps://example.com/iren-q1",
    )
    QuoteFactory(
        instrument=instrument,
        price=D("45.00"),
        previous_close=D("40.00"),
        shares_outstanding=300_000_000,
        market_state="post",
        post_market_price=D("46.00"),
        post_market_change=D("1.00"),
        post_market_change_percent=D("2.2222"),
        day_low=D("39.50"),
        day_high=D("45.50"),
        volume=12_345_678,
        fetched_at=NOW - dt.timedelta(minutes=2),
        source="yahoo",
    )
    DailyBarFactory(
        instrument=instrument,
        date=dt.date(2025, 3, 3),
        close=D("8"),
        adj_close=D("8"),
        high=D("9"),
        low=D("5"),
    )
    DailyBarFactory(
        instrument=instrument,
        date=dt.date(2025, 12, 31),
        close=D("15"),
        adj_close=D("15"),
        high=D("16"),
        low=D("14"),
    )
    DailyBarFactory(
        instrument=instrument,
        date=dt.date(2026, 3, 9),
        close=D("40"),
        adj_close=D("40"),
        high=D("48"),
        low=D("38"),
    )
    return instrument


def body(response) -> str:
    return response.content.decode()


def test_miner_page_shows_quote_stats_and_facts(client, iren):
    response = client.get("/miners/IREN/")
    assert response.status_code == 200
    html = body(response)
    assert "<html" in html and "IREN Ltd" in html
    assert "$45.00" in html and "+$5.00 (+12.50%)" in html
    assert "After hours</span> $46.00 +2.22%" in html
    assert "$13.5B" in html  # market cap
    assert "12,345,678" in html
    assert "+200.0%" in html  # YTD: 45 against the 2025 close of 15
    # 52-week range: the 3 March 2025 bar is 372 days old and left out.
    assert "$14.00 – $48.00" in html
    assert "$240M" in html  # EV 12B / 50 EH/s
    assert "50.0 EH/s" in html and "as of 2025-06-30" in html
    assert "4,500 MW" in html and "secured grid-connected" in html
    assert "200 MW" in html and "Microsoft" in html and "as of 2025-11-03" in html
    assert (
        '<a href="https://www.sec.gov/iren-10k" rel="noopener noreferrer nofollow">sec.gov</a>'
        in html
    )
    assert "simulated" not in html.split("<main")[1].split("</main>")[0].lower()


def test_facts_without_a_source_are_not_shown(client, iren):
    Miner.objects.filter(instrument=iren).update(sources="")
    html = body(client.get("/miners/IREN/"))
    assert "50.0 EH/s" not in html
    assert "Microsoft" not in html
    assert "facts are shown only with their source" in html


def test_simulated_quotes_are_labelled(client, iren):
    Quote.objects.filter(instrument=iren).update(source="simulated")
    html = body(client.get("/miners/IREN/"))
    assert '<span class="tag simulated"' in html


def test_the_chart_has_a_table_fallback_and_range_links(client, iren):
    html = body(client.get("/miners/IREN/", {"range": "YTD"}))
    assert 'data-chart-src="/miners/IREN/bars.json?range=YTD"' in html
    history = html[html.index('<section id="price-history"') :].split("</section>")[0]
    assert "Dec 31, 2025" in history and "$15.00" in history
    assert "Mar 9, 2026" in history and "$40.00" in history
    assert "Mar 10, 2026" in history and "$45.00" in history  # the latest price
    assert "Mar 3, 2025" not in history
    assert 'href="/miners/IREN/?range=1M#price-history"' in history
    assert 'href="/miners/IREN/#price-history"' in history  # the default range, 1Y


def test_htmx_range_change_returns_only_the_chart_partial(client, iren):
    response = client.get(
        "/miners/IREN/", {"range": "5Y"}, headers={**HTMX, "HX-Target": "price-history"}
    )
    html = body(response).strip()
    assert response.status_code == 200
    assert html.startswith('<section id="price-history"')
    assert "<html" not in html and "Key stats" not in html
    assert "Mar 3, 2025" in html  # five years reach the oldest bar
    assert 'aria-current="true">5Y<' in html


def test_an_htmx_request_without_the_chart_target_gets_the_page(client, iren):
    assert "<html" in body(client.get("/miners/IREN/", headers=HTMX))


def test_bars_json(client, iren):
    response = client.get("/miners/IREN/bars.json", {"range": "1Y"})
    assert response.status_code == 200
    payload = response.json()
    assert payload["symbol"] == "IREN" and payload["range"] == "1Y"
    assert payload["points"] == [
        {"time": "2025-12-31", "value": 15.0, "at": "2025-12-31"},
        {"time": "2026-03-09", "value": 40.0, "at": "2026-03-09"},
        {"time": "2026-03-10", "value": 45.0, "at": "2026-03-10"},
    ]
    five_years = client.get("/miners/IREN/bars.json", {"range": "5Y"}).json()
    assert five_years["points"][0]["time"] == "2025-03-03"
    assert client.get("/miners/IREN/bars.json", {"range": "bogus"}).json()["range"] == "1Y"


def test_bars_json_of_an_unknown_symbol_is_404(client, db):
    assert client.get("/miners/NOPE/bars.json").status_code == 404


def test_lowercase_symbol_redirects_to_the_canonical_page(client, iren):
    response = client.get("/miners/iren/")
    assert response.status_code == 302
    assert response["Location"] == "/miners/IREN/"


def test_unknown_symbol_is_a_404_page_with_the_search(client, iren):
    response = client.get("/miners/IRN/")
    assert response.status_code == 404
    html = body(response)
    assert "No instrument called “IRN”" in html
    assert '<form method="get" action="/miners/"' in html
    assert 'name="q" id="id_q" value="IRN"' in html


def test_not_found_page_suggests_close_matches(client, iren):
    html = body(client.get("/miners/IRE/"))
    assert "Did you mean" in html and 'href="/miners/IREN/"' in html
    # A typo finds it too.
    html = body(client.get("/miners/IRN/"))
    assert "Did you mean" in html and 'href="/miners/IREN/"' in html
    assert "Did you mean" not in body(client.get("/miners/ZZZZ/"))


def test_search_by_name_lists_matches(client, iren):
    InstrumentFactory(symbol="CIFR", name="Cipher Mining")
    response = client.get("/miners/", {"q": "cipher"})
    assert response.status_code == 200
    html = body(response)
    assert 'href="/miners/CIFR/"' in html and 'href="/miners/IREN/"' not in html


def test_search_by_exact_symbol_goes_to_its_page(client, iren):
    response = client.get("/miners/", {"q": " iren "})
    assert response.status_code == 302
    assert response["Location"] == "/miners/IREN/"


def test_search_without_a_query_lists_everything(client, iren):
    InstrumentFactory(symbol="BTC-USD", name="Bitcoin", is_benchmark=True, kind="crypto")
    html = body(client.get("/miners/"))
    assert 'href="/miners/IREN/"' in html and 'href="/miners/BTC-USD/"' in html
    assert "Benchmark" in html


def test_search_with_nothing_found(client, iren):
    html = body(client.get("/miners/", {"q": "zzz"}))
    assert "Nothing matches “zzz”" in html


def test_benchmark_page_has_no_label_or_facts(client, iren):
    btc = InstrumentFactory(symbol="BTC-USD", name="Bitcoin USD", is_benchmark=True, kind="crypto")
    QuoteFactory(instrument=btc, price=D("90000"), previous_close=D("88000"))
    response = client.get("/miners/BTC-USD/")
    assert response.status_code == 200
    html = body(response)
    assert "$90,000.00" in html
    assert "lean-banner" not in html and "mining facts" not in html


def test_instrument_without_quote_or_bars(client, db):
    MinerFactory(instrument=InstrumentFactory(symbol="NEWC", name="New Co"), sources="")
    response = client.get("/miners/NEWC/")
    assert response.status_code == 200
    html = body(response)
    assert "No quote yet" in html
    assert "No daily history for this range yet" in html
    assert "Not enough price history" in html


# --- Correlation and beta ----------------------------------------------------------------------


def test_correlation_table_and_label_for_a_stock_that_moves_like_nvidia(client):
    benchmarks = pages_data.build_benchmarks(TODAY, days=200)
    nvda = dict(
        DailyBar.objects.filter(instrument=benchmarks["NVDA"]).values_list("date", "adj_close")
    )
    instrument = InstrumentFactory(symbol="AIDC", name="AI Data Centers")
    MinerFactory(instrument=instrument, segment=Miner.Segment.AI_HPC)
    # Twice NVIDIA's daily moves: correlation 1, beta 2.
    closes = {}
    days = sorted(nvda)
    closes[days[0]] = D("10")
    for previous, day in zip(days, days[1:], strict=False):
        closes[day] = closes[previous] * (1 + 2 * (nvda[day] / nvda[previous] - 1))
    DailyBar.objects.bulk_create(
        [DailyBar(instrument=instrument, date=d, close=c, adj_close=c) for d, c in closes.items()]
    )
    html = body(client.get("/miners/AIDC/"))
    table = html[html.index('id="corr-title"') :].split("</table>")[0]
    nvda_row = table[table.index('href="/miners/NVDA/"') :].split("</tr>")[0]
    assert ">1.00<" in nvda_row and ">2.00<" in nvda_row and ">90<" in nvda_row
    assert 'href="/miners/BTC-USD/"' in table and 'href="/miners/SMH/"' in table
    assert "AIDC trades more like AI infrastructure" in html


# --- Query counts ------------------------------------------------------------------------------


def miner_page_queries(client, symbol: str, django_assert_max_num_queries) -> list[int]:
    from django.core.cache import cache

    cache.clear()  # the data was bulk-written, with no run to replace the bars token
    counts = []
    for url in (f"/miners/{symbol}/", f"/miners/{symbol}/?range=5Y"):
        with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/miners/{symbol}/bars.json?range=5Y").status_code == 200
    counts.append(len(queries))
    return counts


def test_miner_page_queries_do_not_grow_with_the_universe(client, django_assert_max_num_queries):
    pages_data.build_benchmarks(TODAY)
    pages_data.build_miners(10, TODAY)
    small = miner_page_queries(client, "M0003", django_assert_max_num_queries)
    pages_data.build_miners(190, TODAY, prefix="N")
    versions.market_changed()  # bulk writes, then the token, as a refresh run does
    assert Instrument.objects.count() == 203
    large = miner_page_queries(client, "M0003", django_assert_max_num_queries)
    assert small == large


@pytest.mark.parametrize(
    ("url", "status"),
    [("/miners/", 200), ("/miners/?q=cipher", 200), ("/miners/NOPE/", 404)],
)
def test_pages_without_partials_answer_htmx_with_the_whole_page(client, iren, url, status):
    InstrumentFactory(symbol="CIFR", name="Cipher Mining")
    response = client.get(url, headers=HTMX)
    assert response.status_code == status
    assert "<html" in body(response) and 'role="search"' in body(response)
