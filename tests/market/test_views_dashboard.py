"""The sector dashboard through the test client: full pages, htmx partials, sorting and filtering
links, the figures it shows, and a query count that does not grow with the universe."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from market.models import DailyBar, Instrument, Miner, PriceSnapshot, Quote, RefreshRun
from tests.factories import DailyBarFactory, InstrumentFactory, MinerFactory, QuoteFactory
from tests.market import pages_data

D = Decimal
pytestmark = pytest.mark.django_db

# Tuesday 10 March 2026, 11:00 in New York (regular session).
NOW = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 10)
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def make_miner(symbol, segment, price, previous_close, shares, **miner_fields):
    instrument = InstrumentFactory(
        symbol=symbol,
        name=f"{symbol} Inc",
        shares_outstanding=shares,
        **miner_fields.pop("inst", {}),
    )
    MinerFactory(instrument=instrument, segment=segment, **miner_fields)
    QuoteFactory(
        instrument=instrument,
        price=D(price),
        previous_close=D(previous_close),
        shares_outstanding=shares,
        fetched_at=NOW - dt.timedelta(minutes=1),
    )
    return instrument


@pytest.fixture
def sector():
    """Three miners worth $90B together ($1B down today) and a $3T benchmark."""
    alpha = make_miner(
        "ALFA",
        Miner.Segment.PIVOT,
        "20",
        "18",
        1_000_000_000,
        hashrate_eh=D("20"),
        hpc_contracted_mw=D("300"),
        inst={"enterprise_value": D("2400000000")},
    )
    bravo = make_miner("BRVO", Miner.Segment.MINER, "10", "11", 3_000_000_000, hashrate_eh=None)
    charlie = make_miner("CHRL", Miner.Segment.PIVOT, "40", "40", 1_000_000_000)
    nvda = InstrumentFactory(symbol="NVDA", name="NVIDIA", is_benchmark=True)
    QuoteFactory(
        instrument=nvda, price=D("120"), previous_close=D("100"), shares_outstanding=25 * 10**9
    )
    # Last close of 2025 for the YTD bases: ALFA doubled, BRVO is flat on the year.
    DailyBarFactory(instrument=alpha, date=dt.date(2025, 12, 31), close=D("10"), adj_close=D("10"))
    DailyBarFactory(
        instrument=alpha,
        date=dt.date(2026, 3, 9),
        close=D("18"),
        adj_close=D("18"),
        high=D("25"),
        low=D("17"),
    )
    DailyBarFactory(instrument=bravo, date=dt.date(2025, 12, 31), close=D("10"), adj_close=D("10"))
    return {"alpha": alpha, "bravo": bravo, "charlie": charlie, "nvda": nvda}


def body_of(response) -> str:
    return response.content.decode()


def table_row(html: str, symbol: str) -> str:
    start = html.index(f'<th scope="row"><a href="/miners/{symbol}/">')
    return html[start:].split("</tr>")[0]


def row_symbols(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/miners/([^/]+)/">', html)


# --- The full page -----------------------------------------------------------------------------


def test_dashboard_shows_the_sector_total_change_and_milestone(client, sector, settings):
    settings.SECTOR_MILESTONES = [50_000_000_000, 100_000_000_000, 150_000_000_000]
    response = client.get("/")
    assert response.status_code == 200
    html = body_of(response)
    assert "<html" in html
    # 20B + 30B + 40B; the NVDA benchmark is left out.
    assert "$90B" in html
    assert "-$1B (-1.10%)" in html  # -1B on 91B at the previous close
    assert "$100B" in html and "11.1% to go" in html
    assert '<progress value="90' in html
    assert "3 of 3 companies priced" in html


def test_dashboard_table_columns(client, sector):
    html = body_of(client.get("/"))
    alpha_row = table_row(html, "ALFA")
    assert "$20.00" in alpha_row
    assert "+11.11%" in alpha_row  # day change
    assert "$20B" in alpha_row  # market cap
    assert "+100.0%" in alpha_row  # YTD from the last 2025 close
    # 52-week range: the lowest low (9, on 31 December) and the highest high (25).
    assert "$9.00" in alpha_row and "$25.00" in alpha_row
    assert "20.0" in alpha_row  # hashrate
    assert ">300<" in alpha_row  # HPC contracted MW
    assert "$120M" in alpha_row  # EV 2.4B / 20 EH/s
    bravo_row = table_row(html, "BRVO")
    assert "+0.0%" not in bravo_row and "0.0%" in bravo_row  # flat on the year
    assert "$120M" not in bravo_row  # no hashrate, no EV per EH/s
    assert "NVDA" not in row_symbols(html)


def test_segments_side_by_side(client, sector):
    html = body_of(client.get("/"))
    section = html[html.index('id="segments-title"') :]
    assert "Pure miner" in section and "Pivot to AI/HPC" in section
    pivot = section[section.index("Pivot to AI/HPC") :].split("</article>")[0]
    assert "$60B" in pivot  # ALFA + CHRL
    assert "+3.45%" in pivot  # +2B on 58B
    assert "66.7%" in pivot  # share of the sector


def test_movers_lists_gainers_and_losers(client, sector):
    html = body_of(client.get("/"))
    movers = html[html.index('id="movers-title"') :].split("</div>\n    </div>")[0]
    gainers = movers[movers.index('aria-label="Gainers"') : movers.index('aria-label="Losers"')]
    losers = movers[movers.index('aria-label="Losers"') :]
    assert "ALFA" in gainers and "+11.11%" in gainers
    assert "BRVO" in losers and "-9.09%" in losers
    assert "CHRL" not in movers  # unchanged


def test_premarket_change_and_movers_while_premarket_trades(client, sector):
    Quote.objects.filter(instrument__symbol="BRVO").update(
        market_state="pre",
        pre_market_price=D("11"),
        pre_market_change=D("1"),
        pre_market_change_percent=D("10"),
    )
    Quote.objects.filter(instrument__symbol="ALFA").update(
        market_state="pre",
        pre_market_price=D("19"),
        pre_market_change=D("-1"),
        pre_market_change_percent=D("-5"),
    )
    # Tuesday 07:30 in New York.
    with time_machine.travel(dt.datetime(2026, 3, 10, 11, 30, tzinfo=dt.UTC), tick=False):
        html = body_of(client.get("/"))
    assert "Pre-market</span>" in html
    # +3B (BRVO) - 1B (ALFA) on 90B.
    assert "+$2B (+2.22%)" in html
    assert "Pre-market movers" in html
    movers = html[html.index('id="movers-title"') :]
    gainers = movers[: movers.index('aria-label="Losers"')]
    assert "BRVO" in gainers and "+10.00%" in gainers
    assert 'class="pill session pre"' in html


def test_session_badge_and_data_age(client, sector):
    html = body_of(client.get("/"))
    assert 'class="pill session regular"' in html
    assert "New York" in html and "Tue 11:00" in html
    assert "closes 16:00" in html
    assert "Quotes as of" in html and "10:59 ET" in html
    assert "simulated" in html


def test_weekend_badge_names_the_next_session(client, sector):
    with time_machine.travel(dt.datetime(2026, 3, 14, 15, 0, tzinfo=dt.UTC), tick=False):
        html = body_of(client.get("/"))
    assert 'class="pill session closed"' in html
    assert "next session: pre-market Mon 04:00 ET" in html


def test_a_failed_refresh_is_announced(client, sector):
    RefreshRun.objects.create(
        kind=RefreshRun.Kind.QUOTES,
        status=RefreshRun.Status.FAILED,
        provider="yahoo",
        started_at=NOW - dt.timedelta(minutes=2),
        finished_at=NOW - dt.timedelta(minutes=2),
        error_text="ProviderUnavailable: timed out\ntraceback…",
    )
    html = body_of(client.get("/"))
    assert "Yahoo Finance did not answer in time.</strong> Quotes refreshes have failed" in html
    assert "The prices shown are the last good ones, from 10:59 ET." in html
    assert "traceback" not in html


def test_an_ok_refresh_after_a_failure_clears_the_warning(client, sector):
    for minutes, status in ((5, RefreshRun.Status.FAILED), (1, RefreshRun.Status.OK)):
        RefreshRun.objects.create(
            kind=RefreshRun.Kind.QUOTES,
            status=status,
            provider="yahoo",
            started_at=NOW - dt.timedelta(minutes=minutes),
        )
    assert "Quotes refreshes have failed" not in body_of(client.get("/"))


def test_stale_quotes_are_flagged(client, sector):
    Quote.objects.update(fetched_at=NOW - dt.timedelta(hours=1))
    html = body_of(client.get("/"))
    assert "Prices have not been refreshed for 1" in html


def test_empty_database_shows_how_to_load_the_universe(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "load_universe" in body_of(response)


# --- Sorting and filtering without JavaScript --------------------------------------------------


def test_default_order_is_by_market_cap(client, sector):
    assert row_symbols(body_of(client.get("/"))) == ["CHRL", "BRVO", "ALFA"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("symbol", ["ALFA", "BRVO", "CHRL"]),
        ("-symbol", ["CHRL", "BRVO", "ALFA"]),
        ("-day", ["ALFA", "CHRL", "BRVO"]),
        ("day", ["BRVO", "CHRL", "ALFA"]),
        ("-ytd", ["ALFA", "BRVO", "CHRL"]),  # CHRL has no YTD base: last either way
        ("ytd", ["BRVO", "ALFA", "CHRL"]),
        ("-ev_eh", ["ALFA", "BRVO", "CHRL"]),
        ("cap", ["ALFA", "BRVO", "CHRL"]),
        ("nonsense", ["CHRL", "BRVO", "ALFA"]),  # unknown: the default order
    ],
)
def test_sort_links_work_without_htmx(client, sector, sort, expected):
    response = client.get("/", {"sort": sort})
    assert response.status_code == 200
    assert row_symbols(body_of(response)) == expected


def test_header_links_toggle_the_direction_and_keep_the_filter(client, sector):
    html = body_of(client.get("/", {"sort": "symbol", "segment": "pivot"}))
    table = html[html.index('<table class="table miners">') :]
    thead = table[: table.index("</thead>")]
    assert 'aria-sort="ascending"' in thead
    assert 'href="/?sort=-symbol&amp;segment=pivot#miners-table"' in thead
    # Numbers sort biggest first on the first click.
    assert 'href="/?sort=-ytd&amp;segment=pivot#miners-table"' in thead
    # Following a link works as a plain page.
    assert row_symbols(body_of(client.get("/?sort=-symbol&segment=pivot"))) == ["CHRL", "ALFA"]


def test_segment_filter_links(client, sector):
    html = body_of(client.get("/", {"segment": "miner"}))
    assert row_symbols(html) == ["BRVO"]
    filters = html[html.index('aria-label="Segment"') :].split("</nav>")[0]
    assert 'href="/#miners-table"' in filters  # "All" drops the parameter
    assert 'Pure miner <span class="count">1</span>' in filters
    assert "aria-current" in filters.split("Pure miner")[0].split("<a")[-1]
    # The totals stay those of the whole sector.
    assert "$90B" in html


def test_unknown_segment_shows_all(client, sector):
    assert len(row_symbols(body_of(client.get("/", {"segment": "bogus"})))) == 3


def test_hashrate_and_like_columns_sort(client, sector):
    assert row_symbols(body_of(client.get("/", {"sort": "-hashrate"})))[:1] == ["ALFA"]
    response = client.get("/", {"sort": "-like"})
    assert response.status_code == 200


# --- htmx partials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "starts_with", "absent"),
    [
        ("miner-rows", '<tbody id="miner-rows"', "<thead>"),
        ("miners-table", '<section id="miners-table"', 'id="sector-summary"'),
        ("sector-history", '<section id="sector-history"', 'id="miners-table"'),
        ("sector-summary", '<section id="sector-summary"', 'id="miners-table"'),
    ],
)
def test_htmx_requests_get_only_their_partial(client, sector, target, starts_with, absent):
    response = client.get("/", {"sort": "symbol"}, headers={**HTMX, "HX-Target": target})
    assert response.status_code == 200
    html = body_of(response).strip()
    assert html.startswith(starts_with)
    assert "<html" not in html and "<body" not in html
    assert absent not in html
    assert "HX-Request" in response["Vary"]


def test_rows_partial_is_sorted_and_filtered_and_keeps_polling(client, sector):
    response = client.get(
        "/", {"sort": "-symbol", "segment": "pivot"}, headers={**HTMX, "HX-Target": "miner-rows"}
    )
    html = body_of(response)
    assert row_symbols(html) == ["CHRL", "ALFA"]
    assert 'hx-trigger="every 30s"' in html
    assert 'hx-get="/?sort=-symbol&amp;segment=pivot"' in html


def test_table_partial_links_use_htmx_and_plain_hrefs(client, sector):
    html = body_of(client.get("/", headers={**HTMX, "HX-Target": "miners-table"}))
    link = re.search(r'<a class="sort" href="([^"]+)" hx-get="([^"]+)"[^>]*hx-push-url', html)
    assert link is not None
    assert link.group(1).startswith(link.group(2))
    assert 'hx-target="#miners-table"' in html


def test_an_htmx_request_without_a_known_target_gets_the_page(client, sector):
    assert "<html" in body_of(client.get("/", headers=HTMX))


# --- Sector history ----------------------------------------------------------------------------


def test_history_json_sums_close_times_shares_per_day(client, sector):
    bravo = sector["bravo"]
    DailyBarFactory(instrument=bravo, date=dt.date(2026, 3, 9), close=D("11"), adj_close=D("11"))
    DailyBarFactory(instrument=bravo, date=dt.date(2026, 3, 6), close=D("12"), adj_close=D("12"))
    DailyBarFactory(
        instrument=sector["alpha"], date=dt.date(2026, 3, 6), close=D("17"), adj_close=D("17")
    )
    response = client.get("/sector/history.json", {"range": "1M"})
    assert response.status_code == 200
    payload = response.json()
    assert payload["range"] == "1M" and payload["intraday"] is False
    points = {p["time"]: p["value"] for p in payload["points"]}
    # 6 March: ALFA 17 x 1B + BRVO 12 x 3B; 9 March: 18 x 1B + 11 x 3B; today: the live total.
    assert points["2026-03-06"] == pytest.approx(53e9)
    assert points["2026-03-09"] == pytest.approx(51e9)
    assert points["2026-03-10"] == pytest.approx(90e9)
    assert "2025-12-31" not in points


def test_history_json_intraday_sums_snapshots_per_refresh(client, sector):
    miners = [sector["alpha"], sector["bravo"]]
    for minutes, caps in ((30, (20, 30)), (20, (21, 30)), (10, (22, 31))):
        for instrument, cap in zip(miners, caps, strict=True):
            PriceSnapshot.objects.create(
                instrument=instrument,
                taken_at=NOW - dt.timedelta(minutes=minutes),
                price=D("1"),
                market_state="regular",
                market_cap=D(cap) * 10**9,
            )
    PriceSnapshot.objects.create(
        instrument=sector["nvda"],
        taken_at=NOW - dt.timedelta(minutes=10),
        price=D("1"),
        market_state="regular",
        market_cap=D(3 * 10**12),
    )
    payload = client.get("/sector/history.json", {"range": "1D"}).json()
    assert payload["intraday"] is True
    assert [p["value"] for p in payload["points"]] == pytest.approx([50e9, 51e9, 53e9])
    # New York wall-clock time for the chart: 10:30 ET shown as 10:30.
    first = dt.datetime.fromtimestamp(payload["points"][0]["time"], dt.UTC)
    assert (first.hour, first.minute) == (10, 30)
    # A later refresh extends the cached series.
    for instrument, cap in zip(miners, (23, 32), strict=True):
        PriceSnapshot.objects.create(
            instrument=instrument,
            taken_at=NOW,
            price=D("1"),
            market_state="regular",
            market_cap=D(cap) * 10**9,
        )
    again = client.get("/sector/history.json", {"range": "1D"}).json()
    assert [p["value"] for p in again["points"]] == pytest.approx([50e9, 51e9, 53e9, 55e9])


def test_history_partial_has_a_table_fallback_and_range_links(client, sector):
    response = client.get("/", {"range": "YTD"}, headers={**HTMX, "HX-Target": "sector-history"})
    html = body_of(response)
    assert '<details class="chart-table" open>' in html
    assert "Dec 31, 2025" in html  # YTD starts at the last close of the previous year
    assert 'data-chart-src="/sector/history.json?range=YTD"' in html
    assert 'href="/?range=1M#sector-history"' in html
    assert 'href="/#sector-history"' in html  # the default range drops the parameter
    assert 'aria-current="true">YTD<' in html


def test_unknown_history_range_falls_back_to_the_default(client, sector):
    payload = client.get("/sector/history.json", {"range": "10Y"}).json()
    assert payload["range"] == "1Y"


# --- Trades like -------------------------------------------------------------------------------


def test_the_like_column_says_bitcoin_for_a_miner_that_moves_with_bitcoin(client):
    benchmarks = pages_data.build_benchmarks(TODAY, days=200)
    btc_closes = dict(
        DailyBar.objects.filter(instrument=benchmarks["BTC-USD"]).values_list("date", "adj_close")
    )
    follower = make_miner("FOLO", Miner.Segment.MINER, "10", "10", 10**8)
    days = [d for d in sorted(btc_closes) if d.weekday() < 5]
    DailyBar.objects.bulk_create(
        [
            DailyBar(
                instrument=follower,
                date=d,
                close=btc_closes[d] / 1000,
                adj_close=btc_closes[d] / 1000,
            )
            for d in days
        ]
    )
    html = body_of(client.get("/"))
    row = table_row(html, "FOLO")
    assert 'class="lean lean-bitcoin"' in row
    assert "trades more like Bitcoin: correlation 1.00 with Bitcoin" in row


# --- Query counts ------------------------------------------------------------------------------


def count_queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(queries)


def build(count: int):
    pages_data.build_benchmarks(TODAY)
    pages_data.build_miners(count, TODAY)
    for minutes in (20, 10):
        PriceSnapshot.objects.bulk_create(
            [
                PriceSnapshot(
                    instrument_id=pk,
                    taken_at=NOW - dt.timedelta(minutes=minutes),
                    price=D("1"),
                    market_state="regular",
                    market_cap=D(10**9),
                )
                for pk in Instrument.objects.filter(miner__isnull=False).values_list(
                    "pk", flat=True
                )
            ]
        )


def dashboard_query_counts(client, django_assert_max_num_queries) -> dict[str, int]:
    from django.core.cache import cache

    cache.clear()
    counts = {}
    with django_assert_max_num_queries(6):
        counts["cold"] = count_queries(client, "/")
    with django_assert_max_num_queries(3):
        counts["warm"] = count_queries(client, "/")
    cache.clear()
    with django_assert_max_num_queries(6):
        counts["intraday"] = count_queries(client, "/?range=1D&sort=-ytd&segment=pivot")
    with django_assert_max_num_queries(6):
        counts["rows"] = count_queries(
            client, "/?sort=like", HX_Request="true", HX_Target="miner-rows"
        )
    return counts


def test_dashboard_queries_do_not_grow_with_the_universe(client, django_assert_max_num_queries):
    build(10)
    small = dashboard_query_counts(client, django_assert_max_num_queries)
    DailyBar.objects.all().delete()
    Quote.objects.all().delete()
    PriceSnapshot.objects.all().delete()
    Instrument.objects.all().delete()
    build(200)
    assert DailyBar.objects.filter(instrument__miner__isnull=False).count() > 200 * 250
    large = dashboard_query_counts(client, django_assert_max_num_queries)
    assert small == large
    assert large["cold"] <= 6 and large["warm"] <= 3


def test_history_json_queries_do_not_grow(client, django_assert_max_num_queries):
    build(30)
    with django_assert_max_num_queries(4):
        client.get("/sector/history.json?range=5Y")
    with django_assert_max_num_queries(4):
        client.get("/sector/history.json?range=1W")


# --- Cached fragments follow the data ----------------------------------------------------------


def test_a_new_quote_shows_on_the_next_request(client, sector):
    assert "$20.00" in table_row(body_of(client.get("/")), "ALFA")
    # What a quotes refresh does: a bulk write, then the run that ends (its save is the signal).
    Quote.objects.filter(instrument__symbol="ALFA").update(
        price=D("21.50"), market_cap=D("21500000000"), fetched_at=NOW
    )
    RefreshRun.objects.create(
        kind=RefreshRun.Kind.QUOTES,
        status=RefreshRun.Status.OK,
        provider="simulated",
        started_at=NOW,
        finished_at=NOW,
        requested_count=3,
        stored_count=3,
    )
    html = body_of(client.get("/"))
    assert "$21.50" in table_row(html, "ALFA")
    assert "$91.5B" in html
    rows = body_of(client.get("/", headers={**HTMX, "HX-Target": "miner-rows"}))
    assert "$21.50" in table_row(rows, "ALFA")


def test_an_edited_company_fact_shows_on_the_next_request(client, sector):
    assert ">300<" in table_row(body_of(client.get("/")), "ALFA")
    miner = Miner.objects.get(instrument__symbol="ALFA")
    miner.hpc_contracted_mw = D("450")
    miner.save()
    assert ">450<" in table_row(body_of(client.get("/")), "ALFA")
    miner.segment = Miner.Segment.AI_HPC
    miner.save()
    assert "AI/HPC" in table_row(body_of(client.get("/")), "ALFA")


def test_new_bars_update_the_statistics(client, sector):
    assert "+100.0%" in table_row(body_of(client.get("/")), "ALFA")
    # A re-fetched history after a split: the base of the year is now 5 per share.
    DailyBar.objects.filter(instrument=sector["alpha"], date=dt.date(2025, 12, 31)).delete()
    DailyBarFactory(
        instrument=sector["alpha"], date=dt.date(2025, 12, 31), close=D("5"), adj_close=D("5")
    )
    assert "+300.0%" in table_row(body_of(client.get("/")), "ALFA")


# --- Parts swapped independently keep each other's parameters ---------------------------------


def test_a_sort_after_a_range_change_keeps_the_range(client, sector):
    # The table's links were rendered before the chart range changed to 1M.
    response = client.get(
        "/",
        {"sort": "symbol"},
        headers={
            **HTMX,
            "HX-Target": "miners-table",
            "HX-Current-URL": "http://testserver/?range=1M",
        },
    )
    assert response["HX-Push-Url"] == "/?sort=symbol&range=1M"
    html = body_of(response)
    assert row_symbols(html) == ["ALFA", "BRVO", "CHRL"]
    assert 'href="/?sort=-symbol&amp;range=1M#miners-table"' in html


def test_a_range_change_after_a_sort_keeps_the_sort_and_filter(client, sector):
    response = client.get(
        "/",
        {"range": "YTD"},
        headers={
            **HTMX,
            "HX-Target": "sector-history",
            "HX-Current-URL": "http://testserver/?sort=-ytd&segment=pivot",
        },
    )
    assert response["HX-Push-Url"] == "/?sort=-ytd&segment=pivot&range=YTD"
    assert 'href="/?sort=-ytd&amp;segment=pivot&amp;range=1M#sector-history"' in body_of(response)


def test_intraday_history_before_premarket_shows_the_previous_day(client, sector):
    # Tuesday 02:00 New York: the day's chart starts at Monday 04:00.
    night = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
    for taken_at in (
        dt.datetime(2026, 3, 9, 7, 0, tzinfo=dt.UTC),  # Monday 03:00, before the window
        dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC),  # Monday 10:00
        night,
    ):
        PriceSnapshot.objects.create(
            instrument=sector["alpha"],
            taken_at=taken_at,
            price=D("1"),
            market_state="regular",
            market_cap=D(10**9),
        )
    with time_machine.travel(night, tick=False):
        payload = client.get("/sector/history.json", {"range": "1D"}).json()
    assert [p["at"][:16] for p in payload["points"]] == ["2026-03-09T14:00", "2026-03-10T06:00"]


def test_a_segment_tab_after_an_in_place_sort_keeps_the_sort(client, sector):
    """The tab was rendered before the table was sorted by YTD in place: its htmx link names
    only the segment, and the sort comes from the browser's current URL."""
    html = body_of(client.get("/"))
    assert 'hx-get="/?segment=pivot" hx-target="#miners-table"' in html
    response = client.get(
        "/",
        {"segment": "pivot"},
        headers={
            **HTMX,
            "HX-Target": "miners-table",
            "HX-Current-URL": "http://testserver/?sort=-ytd",
        },
    )
    assert response["HX-Push-Url"] == "/?sort=-ytd&segment=pivot"
    table = body_of(response)
    # The YTD header is the active one, descending: its link now flips to ascending.
    assert 'href="/?sort=ytd&amp;segment=pivot#miners-table"' in table
    assert 'href="/?sort=-ytd#miners-table" hx-get="/?segment="' in table
