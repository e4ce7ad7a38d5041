"""The refresh services: what gets fetched, what gets stored, what a failure leaves behind."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from market import services, signals
from market.models import (
    DailyBar,
    Dividend,
    Feed,
    Instrument,
    PriceSnapshot,
    Quote,
    RefreshRun,
    SplitEvent,
)
from market.providers import (
    MalformedData,
    ProfileData,
    ProviderUnavailable,
    RateLimited,
    SearchHit,
    UnknownSymbol,
)
from market.providers.simulated import SimulatedProvider
from market.sessions import NEW_YORK
from tests.factories import InstrumentFactory, QuoteFactory
from tests.market.fake_provider import FakeProvider, quote

pytestmark = pytest.mark.django_db

TUESDAY_11AM = datetime(2026, 11, 24, 11, 0, tzinfo=NEW_YORK)
THANKSGIVING_10AM = datetime(2026, 11, 26, 10, 0, tzinfo=NEW_YORK)


def simulated(moment: datetime) -> SimulatedProvider:
    return SimulatedProvider(now=lambda: moment)


def refresh(moment: datetime, provider=None, **kwargs) -> RefreshRun:
    return services.refresh_quotes(provider=provider or simulated(moment), now=moment, **kwargs)


def latest_run(kind: str = RefreshRun.Kind.QUOTES) -> RefreshRun:
    return RefreshRun.objects.filter(kind=kind).order_by("-pk").first()


# -- a good refresh ------------------------------------------------------------------------------


def test_refresh_with_the_simulated_provider_stores_quotes_snapshots_and_a_run(universe):
    run = refresh(TUESDAY_11AM)

    assert run.status == RefreshRun.Status.OK
    assert (run.requested_count, run.stored_count, run.error_count) == (23, 23, 0)
    assert run.finished_at >= run.started_at == TUESDAY_11AM
    assert run.duration_ms is not None
    assert Quote.objects.count() == 23
    assert PriceSnapshot.objects.filter(taken_at=TUESDAY_11AM).count() == 23

    expected = simulated(TUESDAY_11AM).fetch_quotes(["IREN"]).items["IREN"]
    iren = Quote.objects.get(instrument__symbol="IREN")
    assert iren.price == expected.price
    assert iren.previous_close == expected.previous_close
    assert iren.change == expected.price - expected.previous_close
    assert iren.change_percent == (
        (expected.price - expected.previous_close) / expected.previous_close * 100
    ).quantize(Decimal("0.0001"))
    assert iren.market_cap == expected.price * expected.shares_outstanding
    assert iren.market_state == "regular"
    assert iren.source == "simulated"
    assert iren.fetched_at == TUESDAY_11AM


def test_running_twice_adds_one_snapshot_per_instrument_and_no_duplicate_quote(universe):
    refresh(TUESDAY_11AM)
    first_prices = dict(Quote.objects.values_list("instrument__symbol", "price"))
    refresh(TUESDAY_11AM + timedelta(minutes=1))

    assert Quote.objects.count() == 23
    assert PriceSnapshot.objects.count() == 46
    assert PriceSnapshot.objects.values("taken_at").distinct().count() == 2
    second_prices = dict(Quote.objects.values_list("instrument__symbol", "price"))
    assert sum(first_prices[s] != second_prices[s] for s in first_prices) > 10


def test_pre_market_and_after_hours_changes_are_against_the_last_close(universe):
    eight_am = datetime(2026, 11, 24, 8, 0, tzinfo=NEW_YORK)
    refresh(eight_am)
    pre = Quote.objects.get(instrument__symbol="WULF")
    assert pre.market_state == "pre"
    assert pre.pre_market_price is not None
    assert pre.pre_market_change == pre.pre_market_price - pre.price
    assert pre.post_market_price is None

    five_pm = datetime(2026, 11, 24, 17, 0, tzinfo=NEW_YORK)
    refresh(five_pm)
    post = Quote.objects.get(instrument__symbol="WULF")
    assert post.market_state == "post"
    assert post.post_market_change == post.post_market_price - post.price
    assert post.post_market_change_percent == (
        (post.post_market_price - post.price) / post.price * 100
    ).quantize(Decimal("0.0001"))


def test_market_cap_uses_the_profile_share_count_when_the_quote_has_none(db):
    InstrumentFactory(symbol="AAA", shares_outstanding=2_000_000)
    InstrumentFactory(symbol="BBB", shares_outstanding=2_000_000)
    provider = FakeProvider(
        quotes={
            "AAA": quote("AAA", price="12.50"),
            "BBB": quote("BBB", price="12.50", shares_outstanding=3_000_000),
        }
    )
    refresh(TUESDAY_11AM, provider)
    assert Quote.objects.get(instrument__symbol="AAA").market_cap == Decimal("25000000.00")
    assert Quote.objects.get(instrument__symbol="BBB").market_cap == Decimal("37500000.00")
    assert Quote.objects.get(instrument__symbol="BBB").shares_outstanding == 3_000_000


# -- what is due ---------------------------------------------------------------------------------


def test_a_closed_market_refreshes_only_crypto_until_quotes_are_stale(universe, settings):
    settings.CLOSED_MARKET_REFRESH_MINUTES = 60
    first = refresh(THANKSGIVING_10AM)
    assert first.requested_count == 23  # no quotes yet: everything is due
    assert Quote.objects.filter(market_state="closed").count() == 22

    provider = FakeProvider(
        quotes={"BTC-USD": quote("BTC-USD", price="91000", previous_close=None)}
    )
    a_minute_later = refresh(THANKSGIVING_10AM + timedelta(minutes=1), provider)
    assert provider.calls == [("quotes", ["BTC-USD"])]
    assert a_minute_later.status == RefreshRun.Status.OK
    # The snapshot still covers every instrument, so the sector total at that time is a sum.
    assert PriceSnapshot.objects.filter(taken_at=a_minute_later.started_at).count() == 23

    an_hour_later = refresh(THANKSGIVING_10AM + timedelta(minutes=60))
    assert an_hour_later.requested_count == 23


def test_a_change_of_session_state_refreshes_everything_once(universe):
    refresh(datetime(2026, 11, 24, 19, 59, tzinfo=NEW_YORK))
    at_eight = refresh(datetime(2026, 11, 24, 20, 0, tzinfo=NEW_YORK))
    assert at_eight.requested_count == 23  # post -> closed: each quote fetched once more
    a_minute_later = refresh(datetime(2026, 11, 24, 20, 1, tzinfo=NEW_YORK))
    assert a_minute_later.requested_count == 1  # only BTC-USD trades now


def test_the_simulated_demo_market_refreshes_everything_every_minute_on_a_holiday(universe):
    def demo(moment):
        return SimulatedProvider(now=lambda: moment, always_open=True)

    first = refresh(THANKSGIVING_10AM, demo(THANKSGIVING_10AM))
    iren_before = Quote.objects.get(instrument__symbol="IREN").price
    later = THANKSGIVING_10AM + timedelta(minutes=1)
    second = refresh(later, demo(later))
    assert first.requested_count == second.requested_count == 23
    assert Quote.objects.filter(market_state="regular").count() == 23
    assert Quote.objects.get(instrument__symbol="IREN").price != iren_before


def test_nothing_due_records_a_skipped_run_without_calling_the_provider(db):
    instrument = InstrumentFactory(symbol="AAA")
    QuoteFactory(instrument=instrument, market_state="closed", fetched_at=THANKSGIVING_10AM)
    provider = FakeProvider()
    run = refresh(THANKSGIVING_10AM + timedelta(minutes=5), provider)
    assert run.status == RefreshRun.Status.SKIPPED
    assert "nothing due" in run.error_text
    assert provider.calls == []


def test_force_fetches_every_active_instrument_and_skips_inactive_ones(db):
    InstrumentFactory(symbol="AAA")
    InstrumentFactory(symbol="OFF", is_active=False)
    QuoteFactory(instrument=Instrument.objects.get(symbol="AAA"), fetched_at=THANKSGIVING_10AM)
    provider = FakeProvider(quotes={"AAA": quote("AAA")})
    run = refresh(THANKSGIVING_10AM + timedelta(minutes=1), provider, force=True)
    assert provider.calls == [("quotes", ["AAA"])]
    assert run.stored_count == 1


# -- failures ------------------------------------------------------------------------------------


def test_provider_down_fails_the_run_and_keeps_the_last_good_data(universe):
    refresh(TUESDAY_11AM)
    prices = dict(Quote.objects.values_list("instrument__symbol", "price"))

    down = FakeProvider(raises=ProviderUnavailable("timed out after 10s"))
    with pytest.raises(ProviderUnavailable):
        refresh(TUESDAY_11AM + timedelta(minutes=1), down)

    run = latest_run()
    assert run.status == RefreshRun.Status.FAILED
    assert "timed out after 10s" in run.error_text
    assert run.requested_count == 23
    assert run.finished_at is not None
    assert dict(Quote.objects.values_list("instrument__symbol", "price")) == prices
    assert PriceSnapshot.objects.count() == 23  # no snapshot for the failed run
    assert not RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).exists()


def test_rate_limited_fails_the_run_and_no_call_is_made_before_retry_after(db):
    InstrumentFactory(symbol="AAA")
    limited = FakeProvider(raises=RateLimited("429 Too Many Requests", retry_after=120))
    with pytest.raises(RateLimited):
        refresh(TUESDAY_11AM, limited)
    assert latest_run().status == RefreshRun.Status.FAILED

    good = FakeProvider(quotes={"AAA": quote("AAA")})
    with time_machine.travel(timedelta(seconds=60)):
        run = services.refresh_quotes(provider=good, now=TUESDAY_11AM + timedelta(minutes=1))
    assert run.status == RefreshRun.Status.SKIPPED
    assert "is not called again before" in run.error_text
    assert good.calls == []

    with time_machine.travel(timedelta(seconds=121)):
        run = services.refresh_quotes(provider=good, now=TUESDAY_11AM + timedelta(minutes=3))
    assert run.status == RefreshRun.Status.OK
    assert Quote.objects.get().price == Decimal("10.00")


def test_unusable_prices_are_never_stored_and_keep_the_last_good_quote(db):
    # A provider cannot build a quote from an unusable price (tests/market/test_providers_base.py):
    # it reports the symbol as an error, and the last good quote stays.
    for symbol in ("NAN", "NUL", "OK"):
        InstrumentFactory(symbol=symbol)
    refresh(TUESDAY_11AM, FakeProvider(quotes={s: quote(s, price="5.00") for s in ("NAN", "OK")}))
    provider = FakeProvider(
        quotes={"OK": quote("OK", price="7.00", previous_close=None)},
        errors={
            "NAN": MalformedData("NAN: no usable regularMarketPrice (nan)"),
            "NUL": MalformedData("NUL: no usable regularMarketPrice (None)"),
        },
    )
    run = refresh(TUESDAY_11AM + timedelta(minutes=1), provider)

    assert run.status == RefreshRun.Status.PARTIAL
    assert set(run.errors) == {"NAN", "NUL"}
    assert all("no usable regularMarketPrice" in message for message in run.errors.values())
    assert Quote.objects.get(instrument__symbol="NAN").price == Decimal("5.00")  # last good kept
    assert not Quote.objects.filter(instrument__symbol="NUL").exists()
    ok = Quote.objects.get(instrument__symbol="OK")
    assert ok.price == Decimal("7.00")
    assert ok.previous_close is None and ok.change is None and ok.change_percent is None


def test_an_unknown_symbol_among_good_ones_makes_a_partial_run(db):
    for symbol in ("AAA", "BBB", "GONE"):
        InstrumentFactory(symbol=symbol)
    provider = FakeProvider(quotes={"AAA": quote("AAA"), "BBB": quote("BBB")})
    run = refresh(TUESDAY_11AM, provider)
    assert run.status == RefreshRun.Status.PARTIAL
    assert (run.requested_count, run.stored_count, run.error_count) == (3, 2, 1)
    assert run.errors["GONE"].startswith("UnknownSymbol")
    assert "GONE" in run.error_text
    assert set(Quote.objects.values_list("instrument__symbol", flat=True)) == {"AAA", "BBB"}


def test_malformed_per_symbol_answers_and_missing_symbols_are_reported(db):
    for symbol in ("AAA", "BAD", "MIA"):
        InstrumentFactory(symbol=symbol)

    class Silent(FakeProvider):
        def fetch_quotes(self, symbols):
            batch = super().fetch_quotes([s for s in symbols if s != "MIA"])
            return batch

    provider = Silent(quotes={"AAA": quote("AAA")}, errors={"BAD": MalformedData("not JSON")})
    run = refresh(TUESDAY_11AM, provider)
    assert run.errors == {
        "BAD": "MalformedData: not JSON",
        "MIA": "no quote in the provider's answer",
    }


def test_every_symbol_failing_makes_a_failed_run_that_stores_nothing(db):
    InstrumentFactory(symbol="AAA")
    run = refresh(TUESDAY_11AM, FakeProvider())
    assert run.status == RefreshRun.Status.FAILED
    assert not Quote.objects.exists()
    assert not PriceSnapshot.objects.exists()


# -- constant statements -------------------------------------------------------------------------


def _create_instruments(count: int, prefix: str) -> None:
    Instrument.objects.bulk_create(
        [Instrument(symbol=f"{prefix}{i:04d}", name=f"{prefix}{i}") for i in range(count)]
    )


def _statements_of_a_refresh(moment: datetime) -> int:
    with CaptureQueriesContext(connection) as queries:
        run = refresh(moment, force=True)
    assert run.status == RefreshRun.Status.OK
    return len(queries)


def test_a_refresh_of_5_and_of_200_instruments_issues_the_same_statements(db):
    _create_instruments(5, "A")
    five = _statements_of_a_refresh(TUESDAY_11AM)
    _create_instruments(195, "B")
    two_hundred = _statements_of_a_refresh(TUESDAY_11AM + timedelta(minutes=1))
    assert Quote.objects.count() == 200
    assert PriceSnapshot.objects.count() == 5 + 200
    assert five == two_hundred
    assert two_hundred <= 12


# -- the overlap guard ---------------------------------------------------------------------------


def test_the_database_refuses_two_running_runs_of_a_kind(db):
    RefreshRun.objects.create(kind="quotes", provider="x", started_at=TUESDAY_11AM)
    RefreshRun.objects.create(kind="bars", provider="x", started_at=TUESDAY_11AM)
    with pytest.raises(IntegrityError), transaction.atomic():
        RefreshRun.objects.create(kind="quotes", provider="x", started_at=TUESDAY_11AM)


def test_a_refresh_while_another_is_running_is_skipped(universe):
    class Reentrant(SimulatedProvider):
        """Starts a second refresh while the first one waits for its quotes."""

        inner: RefreshRun | None = None

        def fetch_quotes(self, symbols):
            Reentrant.inner = services.refresh_quotes(
                provider=simulated(TUESDAY_11AM), now=TUESDAY_11AM + timedelta(seconds=20)
            )
            return super().fetch_quotes(symbols)

    outer = services.refresh_quotes(provider=Reentrant(now=lambda: TUESDAY_11AM), now=TUESDAY_11AM)
    assert outer.status == RefreshRun.Status.OK
    assert Reentrant.inner.status == RefreshRun.Status.SKIPPED
    assert "another quotes refresh is running" in Reentrant.inner.error_text
    assert PriceSnapshot.objects.count() == 23


@pytest.mark.parametrize("heartbeat", [True, False])
def test_a_stale_running_run_is_abandoned_and_does_not_block(db, heartbeat):
    InstrumentFactory(symbol="AAA")
    long_ago = TUESDAY_11AM - timedelta(minutes=30)
    crashed = RefreshRun.objects.create(
        kind="quotes",
        provider="fake",
        started_at=long_ago,
        heartbeat_at=long_ago if heartbeat else None,
    )
    run = refresh(TUESDAY_11AM, FakeProvider(quotes={"AAA": quote("AAA")}))
    assert run.status == RefreshRun.Status.OK
    crashed.refresh_from_db()
    assert crashed.status == RefreshRun.Status.FAILED
    assert crashed.error_text.startswith("abandoned")


def test_a_running_run_that_beat_within_its_lease_blocks(db):
    InstrumentFactory(symbol="AAA")
    RefreshRun.objects.create(
        kind="quotes", provider="fake", started_at=TUESDAY_11AM, heartbeat_at=TUESDAY_11AM
    )
    provider = FakeProvider(quotes={"AAA": quote("AAA")})
    run = refresh(TUESDAY_11AM + timedelta(seconds=44), provider)
    assert run.status == RefreshRun.Status.SKIPPED
    assert provider.calls == []


def test_a_run_that_missed_three_beats_is_taken_over_at_the_next_tick(db):
    InstrumentFactory(symbol="AAA")
    dead = RefreshRun.objects.create(
        kind="quotes", provider="fake", started_at=TUESDAY_11AM, heartbeat_at=TUESDAY_11AM
    )
    run = refresh(TUESDAY_11AM + timedelta(seconds=46), FakeProvider(quotes={"AAA": quote("AAA")}))
    assert run.status == RefreshRun.Status.OK
    dead.refresh_from_db()
    assert dead.status == RefreshRun.Status.FAILED
    assert dead.error_text == ("abandoned: no sign of life for 45 seconds (did the worker stop?)")


def test_a_claimed_run_beats_until_it_finishes(transactional_db, monkeypatch):
    from market.services import runs

    monkeypatch.setattr(runs, "HEARTBEAT_EVERY", timedelta(milliseconds=20))
    run, claimed = runs.claim_run(RefreshRun.Kind.QUOTES, "fake", TUESDAY_11AM)
    assert claimed
    heartbeat = runs._heartbeats[run.pk]
    deadline = time.monotonic() + 10
    while run.heartbeat_at == TUESDAY_11AM and time.monotonic() < deadline:
        run.refresh_from_db()  # until the heartbeat thread has written (real clock)
    assert run.heartbeat_at > TUESDAY_11AM
    runs.finish_run(run, RefreshRun.Status.OK, time.monotonic())
    heartbeat.join(5)
    assert not heartbeat.is_alive()
    assert run.pk not in runs._heartbeats


# -- signals -------------------------------------------------------------------------------------


@pytest.fixture
def received():
    events: list[tuple[str, dict]] = []

    def on_quotes(sender, signal, **kwargs):
        events.append(("quotes_refreshed", kwargs))

    def on_splits(sender, signal, **kwargs):
        events.append(("splits_recorded", kwargs))

    def on_dividends(sender, signal, **kwargs):
        events.append(("dividends_recorded", kwargs))

    signals.quotes_refreshed.connect(on_quotes)
    signals.splits_recorded.connect(on_splits)
    signals.dividends_recorded.connect(on_dividends)
    yield events
    signals.quotes_refreshed.disconnect(on_quotes)
    signals.splits_recorded.disconnect(on_splits)
    signals.dividends_recorded.disconnect(on_dividends)


def test_quotes_refreshed_is_sent_after_commit_with_the_run_id(
    universe, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = refresh(TUESDAY_11AM)
    assert received == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert [(name, kwargs["refresh_run_id"]) for name, kwargs in received] == [
        ("quotes_refreshed", run.pk)
    ]


def test_a_failing_receiver_does_not_break_the_refresh(
    universe, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("alert evaluation crashed")

    signals.quotes_refreshed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = refresh(TUESDAY_11AM)
    finally:
        signals.quotes_refreshed.disconnect(broken)
    assert run.status == RefreshRun.Status.OK


def test_no_signal_when_nothing_was_stored(db, received, django_capture_on_commit_callbacks):
    InstrumentFactory(symbol="AAA")
    with django_capture_on_commit_callbacks(execute=True):
        refresh(TUESDAY_11AM, FakeProvider())
    assert received == []


# -- pruning -------------------------------------------------------------------------------------


def test_prune_deletes_snapshots_and_quote_runs_past_the_retention(universe, settings):
    settings.SNAPSHOT_RETENTION_DAYS = 2
    old = refresh(TUESDAY_11AM - timedelta(days=3))
    recent = refresh(TUESDAY_11AM - timedelta(days=1))
    bars_run = RefreshRun.objects.create(
        kind="bars", provider="x", status="ok", started_at=TUESDAY_11AM - timedelta(days=9)
    )

    result = services.prune_snapshots(now=TUESDAY_11AM)

    assert (result.snapshots, result.refresh_runs) == (23, 1)
    assert not PriceSnapshot.objects.filter(taken_at=old.started_at).exists()
    assert PriceSnapshot.objects.filter(taken_at=recent.started_at).count() == 23
    assert not RefreshRun.objects.filter(pk=old.pk).exists()
    assert RefreshRun.objects.filter(pk__in=[recent.pk, bars_run.pk]).count() == 2
    assert Quote.objects.count() == 23  # latest quotes are never pruned


# -- profiles ------------------------------------------------------------------------------------


def test_profiles_update_share_counts_and_keep_curated_names(universe):
    run = services.refresh_profiles(provider=simulated(TUESDAY_11AM), now=TUESDAY_11AM)
    assert run.status == RefreshRun.Status.OK
    assert run.stored_count == 23
    iren = Instrument.objects.get(symbol="IREN")
    assert iren.name == "IREN Ltd"
    assert iren.shares_outstanding and iren.shares_outstanding > 0
    assert iren.enterprise_value and iren.enterprise_value > 0
    assert iren.profile_updated_at == TUESDAY_11AM

    again = services.refresh_profiles(provider=simulated(TUESDAY_11AM), now=TUESDAY_11AM)
    assert again.status == RefreshRun.Status.SKIPPED  # a fresh profile is not fetched again


class FailsOnSecondChunk(FakeProvider):
    def fetch_profiles(self, symbols):
        if self.calls:
            self.calls.append(("profiles", list(symbols)))
            raise ProviderUnavailable("Yahoo answered HTTP 503")
        return super().fetch_profiles(symbols)


def test_a_profiles_run_that_fails_after_a_stored_chunk_is_partial_and_keeps_it(db, monkeypatch):
    monkeypatch.setattr("market.services.profiles.PROFILE_CHUNK", 2)
    for symbol in ("AAA", "BBB", "CCC"):
        InstrumentFactory(symbol=symbol, shares_outstanding=None)
    profiles = {s: ProfileData(symbol=s, shares_outstanding=1000) for s in ("AAA", "BBB", "CCC")}
    with pytest.raises(ProviderUnavailable):
        services.refresh_profiles(provider=FailsOnSecondChunk(profiles=profiles), now=TUESDAY_11AM)
    run = latest_run(RefreshRun.Kind.PROFILES)
    assert run.status == RefreshRun.Status.PARTIAL
    assert (run.requested_count, run.stored_count) == (3, 2)
    assert run.error_text == "ProviderUnavailable: Yahoo answered HTTP 503"
    assert run.finished_at is not None
    shares = dict(Instrument.objects.values_list("symbol", "shares_outstanding"))
    assert shares == {"AAA": 1000, "BBB": 1000, "CCC": None}


def test_a_write_that_fails_records_a_failed_run_instead_of_leaving_it_running(db, monkeypatch):
    InstrumentFactory(symbol="AAA")

    def refuse(*args, **kwargs):
        raise IntegrityError("refused")

    monkeypatch.setattr(PriceSnapshot.objects, "bulk_create", refuse)
    provider = FakeProvider(quotes={"AAA": quote("AAA")})
    with pytest.raises(IntegrityError):
        refresh(TUESDAY_11AM, provider, force=True)
    run = latest_run()
    assert run.status == RefreshRun.Status.FAILED
    assert run.error_text == "IntegrityError: refused"
    assert not Quote.objects.exists()  # the quotes' upsert was rolled back with the snapshots


# -- daily bars and splits -----------------------------------------------------------------------


def test_backfill_stores_years_of_bars_and_is_idempotent(db):
    InstrumentFactory(symbol="IREN")
    InstrumentFactory(symbol="BTC-USD", kind="crypto")
    provider = simulated(TUESDAY_11AM)
    run = services.backfill_bars(years=1, provider=provider, now=TUESDAY_11AM)
    assert run.status == RefreshRun.Status.OK
    equity = DailyBar.objects.filter(instrument__symbol="IREN")
    crypto = DailyBar.objects.filter(instrument__symbol="BTC-USD")
    assert 248 <= equity.count() <= 254  # trading days in a year (weekdays less holidays)
    assert 365 <= crypto.count() <= 367
    assert equity.order_by("date").first().date == date(2025, 11, 24)
    total = DailyBar.objects.count()
    assert run.details["bars"] == total

    services.backfill_bars(years=1, provider=provider, now=TUESDAY_11AM)
    assert DailyBar.objects.count() == total


def test_update_reads_the_last_week_and_backfills_instruments_without_bars(db):
    InstrumentFactory(symbol="OLD")
    InstrumentFactory(symbol="NEW")
    provider = FakeProvider(bar_symbols=["OLD", "NEW"])
    services.backfill_bars(symbols=["OLD"], years=1, provider=provider, now=TUESDAY_11AM)
    provider.calls.clear()

    run = services.update_bars(years=2, provider=provider, now=TUESDAY_11AM)

    assert run.status == RefreshRun.Status.OK
    starts = {tuple(call[1]): call[2] for call in provider.calls}
    assert starts[("OLD",)] == date(2026, 11, 24) - timedelta(days=7)
    assert starts[("NEW",)] == date(2024, 11, 24)


def test_a_new_split_refetches_the_whole_history_and_is_signalled(
    db, received, django_capture_on_commit_callbacks
):
    InstrumentFactory(symbol="NVDA")
    provider = FakeProvider(bar_symbols=["NVDA"])
    services.backfill_bars(years=1, provider=provider, now=TUESDAY_11AM)
    assert DailyBar.objects.get(instrument__symbol="NVDA", date=date(2026, 1, 5)).close == 100

    # A 2-for-1 split last Friday: the provider now restates every earlier close.
    provider.splits = {"NVDA": [(date(2026, 11, 20), Decimal(2))]}
    provider.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.update_bars(provider=provider, now=TUESDAY_11AM)

    split = SplitEvent.objects.get(instrument__symbol="NVDA")
    assert (split.date, split.ratio) == (date(2026, 11, 20), Decimal(2))
    assert [call[2] for call in provider.calls] == [date(2026, 11, 17), date(2025, 11, 24)]
    assert DailyBar.objects.get(instrument__symbol="NVDA", date=date(2026, 1, 5)).close == 50
    assert DailyBar.objects.get(instrument__symbol="NVDA", date=date(2026, 11, 23)).close == 100
    assert run.details["new_splits"] == 1 and run.details["refetched"] == 1
    assert received == [("splits_recorded", {"split_event_ids": [split.pk]})]

    # Seen before: no new signal, no refetch.
    received.clear()
    provider.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.update_bars(provider=provider, now=TUESDAY_11AM)
    assert received == []
    assert len(provider.calls) == 1


def test_new_and_restated_dividends_are_signalled_after_commit_and_unchanged_ones_are_not(
    db, received, django_capture_on_commit_callbacks
):
    InstrumentFactory(symbol="KO")
    InstrumentFactory(symbol="PEP")
    provider = FakeProvider(
        bar_symbols=["KO", "PEP"],
        dividends={
            "KO": [(date(2026, 3, 13), Decimal("0.51"), "USD")],
            "PEP": [(date(2026, 6, 5), Decimal("1.4225"), "USD")],
        },
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.backfill_bars(years=1, provider=provider, now=TUESDAY_11AM)
    assert received == []  # nothing before the commit
    for callback in callbacks:
        callback()
    ko = Dividend.objects.get(instrument__symbol="KO")
    pep = Dividend.objects.get(instrument__symbol="PEP")
    assert (ko.amount, pep.amount) == (Decimal("0.51"), Decimal("1.4225"))
    assert received == [("dividends_recorded", {"dividend_ids": sorted([ko.pk, pep.pk])})]
    assert (run.details["dividends"], run.details["changed_dividends"]) == (2, 2)

    # The same answer again: nothing written, nothing sent.
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.backfill_bars(years=1, provider=provider, now=TUESDAY_11AM)
    assert received == []
    assert (run.details["dividends"], run.details["changed_dividends"]) == (2, 0)

    # PEP's is restated (another amount), KO's paid in another currency, PEP gets a new one.
    provider.dividends = {
        "KO": [(date(2026, 3, 13), Decimal("0.51"), "EUR")],
        "PEP": [
            (date(2026, 6, 5), Decimal("1.42"), "USD"),
            (date(2026, 9, 4), Decimal("1.42"), "USD"),
        ],
    }
    with django_capture_on_commit_callbacks(execute=True):
        run = services.backfill_bars(years=1, provider=provider, now=TUESDAY_11AM)
    new = Dividend.objects.get(instrument__symbol="PEP", ex_date=date(2026, 9, 4))
    assert received == [("dividends_recorded", {"dividend_ids": sorted([ko.pk, pep.pk, new.pk])})]
    assert list(
        Dividend.objects.order_by("instrument__symbol", "ex_date").values_list(
            "instrument__symbol", "ex_date", "amount", "currency"
        )
    ) == [
        ("KO", date(2026, 3, 13), Decimal("0.51"), "EUR"),
        ("PEP", date(2026, 6, 5), Decimal("1.42"), "USD"),
        ("PEP", date(2026, 9, 4), Decimal("1.42"), "USD"),
    ]
    assert run.details["changed_dividends"] == 3


def test_a_bars_failure_records_a_failed_run(db):
    InstrumentFactory(symbol="AAA")
    with pytest.raises(ProviderUnavailable):
        services.backfill_bars(
            provider=FakeProvider(raises=ProviderUnavailable("502")), now=TUESDAY_11AM
        )
    run = latest_run(RefreshRun.Kind.BARS)
    assert run.status == RefreshRun.Status.FAILED
    assert "502" in run.error_text


def test_backfill_missing_waits_before_asking_again_for_a_symbol_that_failed(db):
    InstrumentFactory(symbol="GOOD")
    InstrumentFactory(symbol="GONE")
    provider = FakeProvider(bar_symbols=["GOOD"])
    first = services.backfill_missing_bars(provider=provider, now=TUESDAY_11AM, years=1)
    assert first.status == RefreshRun.Status.PARTIAL
    assert set(first.errors) == {"GONE"}

    provider.calls.clear()
    later = TUESDAY_11AM + timedelta(minutes=10)
    assert services.backfill_missing_bars(provider=provider, now=later, years=1) is None
    assert provider.calls == []

    much_later = TUESDAY_11AM + services.MISSING_BARS_RETRY_AFTER + timedelta(minutes=1)
    services.backfill_missing_bars(provider=provider, now=much_later, years=1)
    assert [call[1] for call in provider.calls] == [["GONE"]]


def test_backfill_missing_does_nothing_when_every_instrument_has_bars(db):
    instrument = InstrumentFactory(symbol="AAA")
    DailyBar.objects.create(instrument=instrument, date=date(2026, 11, 23), close=1, adj_close=1)
    assert services.backfill_missing_bars(provider=FakeProvider(), now=TUESDAY_11AM) is None
    assert not RefreshRun.objects.exists()


# -- adding an instrument ------------------------------------------------------------------------


def test_add_instrument_creates_a_symbol_the_provider_knows(db):
    provider = FakeProvider(
        profiles={
            "SOLV": ProfileData(
                symbol="SOLV",
                name="Solvent Mining Inc.",
                exchange="NASDAQ",
                currency="USD",
                kind="equity",
                shares_outstanding=50_000_000,
            )
        }
    )
    instrument = services.add_instrument(" solv ", provider=provider)
    assert instrument.pk is not None
    assert (instrument.symbol, instrument.name, instrument.exchange) == (
        "SOLV",
        "Solvent Mining Inc.",
        "NASDAQ",
    )
    assert instrument.shares_outstanding == 50_000_000
    assert instrument.is_benchmark is False


def test_add_instrument_uses_search_when_the_profile_has_no_name(db):
    provider = FakeProvider(
        profiles={"BTC-EUR": ProfileData(symbol="BTC-EUR", kind="crypto")},
        hits=[SearchHit("BTC-EUR", "Bitcoin EUR", "CCC", "crypto")],
    )
    instrument = services.add_instrument("BTC-EUR", provider=provider)
    assert (instrument.name, instrument.kind) == ("Bitcoin EUR", "crypto")


@pytest.mark.parametrize("symbol", ["ZZZZ", "not a symbol!", ""])
def test_add_instrument_refuses_what_the_provider_does_not_know(db, symbol):
    with pytest.raises(UnknownSymbol):
        services.add_instrument(symbol, provider=FakeProvider())
    assert not Instrument.objects.exists()


def test_add_instrument_returns_an_existing_one_without_asking_the_provider(db):
    existing = InstrumentFactory(symbol="IREN", is_active=False)
    provider = FakeProvider()
    assert services.add_instrument("iren", provider=provider) == existing
    assert provider.calls == []
    existing.refresh_from_db()
    assert existing.is_active


def test_add_instrument_passes_on_a_provider_outage(db):
    with pytest.raises(ProviderUnavailable):
        services.add_instrument("SOLV", provider=FakeProvider(raises=ProviderUnavailable("down")))
    assert not Instrument.objects.exists()


def test_a_batch_quote_older_than_the_streamed_price_keeps_the_stream_price(db):
    """The minute's batch fills what the stream does not send (share counts, previous close) but
    never steps a streamed price back to an older one; a newer batch price wins."""
    streamed_at = TUESDAY_11AM - timedelta(seconds=5)
    aaa = InstrumentFactory(symbol="AAA", shares_outstanding=2_000_000)
    bbb = InstrumentFactory(symbol="BBB", shares_outstanding=2_000_000)
    for instrument in (aaa, bbb):
        QuoteFactory(
            instrument=instrument,
            price=Decimal("12.34"),
            provider_time=streamed_at,
            feed=Feed.STREAM,
        )
    provider = FakeProvider(
        quotes={
            # AAA's batch price is a minute older than the stream's; BBB's is newer.
            "AAA": quote(
                "AAA",
                price="11.00",
                shares_outstanding=3_000_000,
                provider_time=(streamed_at - timedelta(minutes=1)).astimezone(UTC),
            ),
            "BBB": quote("BBB", price="13.00", provider_time=TUESDAY_11AM.astimezone(UTC)),
        }
    )
    run = refresh(TUESDAY_11AM, provider, force=True)

    assert run.status == RefreshRun.Status.OK and run.stored_count == 2
    kept = Quote.objects.get(instrument=aaa)
    assert (kept.price, kept.feed, kept.provider_time) == (
        Decimal("12.34"),
        Feed.STREAM,
        streamed_at,
    )
    assert kept.shares_outstanding == 3_000_000
    assert kept.previous_close == Decimal("9.50")
    assert kept.fetched_at == TUESDAY_11AM
    replaced = Quote.objects.get(instrument=bbb)
    assert (replaced.price, replaced.feed) == (Decimal("13.00"), Feed.BATCH)
    # The snapshot of the run carries the streamed price, not the older batch one.
    assert PriceSnapshot.objects.get(instrument=aaa, taken_at=TUESDAY_11AM).price == Decimal(
        "12.34"
    )
