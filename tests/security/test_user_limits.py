"""One user cannot take more than their share: alerts, portfolios, new symbols, pending uploads,
uploads per hour and rows per file are capped, each by a setting, and the caps hold under
concurrent requests (PostgreSQL, threads) without locking anything shared."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from market.models import Instrument
from portfolios.models import PendingImport, Portfolio, PriceAlert
from portfolios.services import create_alert, create_portfolio, find_or_add_instrument
from tests.factories import InstrumentFactory, PortfolioFactory, QuoteFactory, UserFactory
from tests.security.conftest import run_together

D = Decimal
UTC = dt.UTC
NOON = dt.datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def iren(db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    QuoteFactory(instrument=instrument, price=D("40.00"), previous_close=D("38.00"))
    return instrument


def upload(client, portfolio, content: bytes, **headers):
    return client.post(
        f"/portfolios/{portfolio.pk}/import/",
        {"file": SimpleUploadedFile("trades.csv", content, content_type="text/csv")},
        headers=headers,
    )


def trades_file(rows: int, symbol: str = "IREN") -> bytes:
    lines = ["Date,Symbol,Type,Quantity,Price"]
    lines += [f"2025-01-{1 + n % 28:02d},{symbol},buy,1,{10 + n % 7}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


# -- alerts (issue 22, 9) ------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True])
def test_an_account_has_at_most_alerts_per_user_alerts(user_client, user, iren, settings, htmx):
    settings.ALERTS_PER_USER = 3
    data = {"symbol": "IREN", "condition": "above", "threshold": "50", "active": "on"}
    for threshold in ("50", "51", "52"):
        assert user_client.post("/alerts/new/", {**data, "threshold": threshold}).status_code == 302
    response = user_client.post(
        "/alerts/new/", {**data, "threshold": "53"}, headers={"HX-Request": "true"} if htmx else {}
    )
    assert response.status_code == 422
    assert (
        "You have 3 alerts, the most one account may have: delete one you no longer need first."
        in response.content.decode()
    )
    assert sorted(user.alerts.values_list("threshold", flat=True)) == [D("50"), D("51"), D("52")]
    # Another account is not affected by this one's alerts.
    other = Client()
    other.force_login(UserFactory())
    assert other.post("/alerts/new/", {**data, "threshold": "53"}).status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_alert_creations_stop_at_the_cap(settings, iren):
    settings.ALERTS_PER_USER = 5
    owner = UserFactory()

    def create(index: int):
        return create_alert(
            owner=owner, instrument=iren, condition="above", threshold=D(100 + index)
        )

    results = run_together(20, create)
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert [e.code for e in refused] == ["too_many_alerts"] * 15, results
    assert PriceAlert.objects.filter(owner=owner).count() == 5


# -- portfolios and pending uploads (issue 22, 12) -------------------------------------------------


def test_an_account_has_at_most_portfolios_per_user_portfolios(user_client, user, settings):
    settings.PORTFOLIOS_PER_USER = 2
    for name in ("Core", "Trading"):
        response = user_client.post("/portfolios/new/", {"name": name, "base_currency": "USD"})
        assert response.status_code == 302
    response = user_client.post("/portfolios/new/", {"name": "Third", "base_currency": "USD"})
    assert response.status_code == 422
    assert (
        "You have 2 portfolios, the most one account may have: delete one you no longer need "
        "first." in response.content.decode()
    )
    assert sorted(user.portfolios.values_list("name", flat=True)) == ["Core", "Trading"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_portfolio_creations_stop_at_the_cap(settings):
    settings.PORTFOLIOS_PER_USER = 3
    owner = UserFactory()
    results = run_together(12, lambda i: create_portfolio(owner=owner, name=f"P{i}"))
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 9, results
    assert {e.code for e in refused} == {"too_many_portfolios"}
    assert Portfolio.objects.filter(owner=owner).count() == 3


@pytest.mark.redis
def test_an_upload_waits_in_a_table_not_in_the_cache(user_client, user, iren, settings):
    """A 100 KB upload puts nothing of its size in Redis (where evictions would hit other users'
    keys): it waits in PendingImport, and is confirmed from there."""
    from django.core.cache import cache

    from tests.redis_cache import real_redis_cache

    with real_redis_cache(settings, "uploads"):
        cache.set("another-users-key", "kept", 600)
        note = "x" * 200
        lines = ["Date,Symbol,Type,Quantity,Price,Note"]
        lines += [f"2025-01-{1 + n % 28:02d},IREN,buy,1,10,{note}" for n in range(450)]
        content = ("\n".join(lines) + "\n").encode()
        assert len(content) > 100_000
        response = upload(user_client, PortfolioFactory(owner=user), content)
        assert response.status_code == 200
        import redis

        client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        stored = sum(client.memory_usage(key) or 0 for key in client.scan_iter(f"{prefix}:*"))
        assert stored < 20_000, stored  # sessions, version tokens: not the file
        assert cache.get("another-users-key") == "kept"
        pending = PendingImport.objects.get(owner=user)
        assert bytes(pending.content) == content
        assert (pending.rows, pending.filename) == (450, "trades.csv")
        confirmed = user_client.post(
            f"/portfolios/{pending.portfolio_id}/import/confirm/", {"sha256": pending.sha256}
        )
        assert confirmed.status_code == 302
        assert not PendingImport.objects.exists()


def test_pending_uploads_per_account_are_capped_and_expired_ones_deleted(
    user_client, user, iren, settings
):
    settings.PENDING_IMPORTS_PER_USER = 2
    core, trading, third = (
        PortfolioFactory(owner=user, name=name) for name in ("Core", "Trading", "Third")
    )
    with time_machine.travel(NOON, tick=False):
        assert upload(user_client, core, trades_file(2)).status_code == 200
        # A new upload into the same portfolio replaces its waiting one.
        assert upload(user_client, core, trades_file(3)).status_code == 200
        assert upload(user_client, trading, trades_file(2)).status_code == 200
        refused = upload(user_client, third, trades_file(2))
        assert refused.status_code == 422
        assert (
            "Files wait for their confirmation in 2 of your portfolios (“Core”, “Trading”), the "
            "most one account may have: import or cancel one of them first, or upload this one "
            "again after 13:00 UTC, when the oldest expires."
        ) in refused.content.decode()
        assert sorted(PendingImport.objects.values_list("portfolio__name", "rows")) == [
            ("Core", 3),
            ("Trading", 2),
        ]
    from portfolios.tasks import forget_expired_uploads

    with time_machine.travel(NOON + dt.timedelta(minutes=59), tick=False):
        assert forget_expired_uploads() == 0
    with time_machine.travel(NOON + dt.timedelta(minutes=61), tick=False):
        assert forget_expired_uploads() == 2
        assert not PendingImport.objects.exists()
        assert upload(user_client, third, trades_file(2)).status_code == 200


def test_another_user_cannot_see_or_confirm_an_upload(client, user, other_user, iren):
    target = PortfolioFactory(owner=user)
    mine = Client()
    mine.force_login(user)
    upload(mine, target, trades_file(2))
    pending = PendingImport.objects.get()
    client.force_login(other_user)
    form = {"sha256": pending.sha256}
    base = f"/portfolios/{target.pk}/import"
    assert client.get(f"{base}/check/", form).status_code == 404
    assert client.post(f"{base}/confirm/", form).status_code == 404
    assert client.post(f"{base}/cancel/", form).status_code == 404
    assert PendingImport.objects.filter(pk=pending.pk).exists()
    anonymous = Client().get(f"{base}/check/", form)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


# -- imports: rows per file, uploads per hour (issue 22, 10) ---------------------------------------


def test_rows_per_import_are_capped(user_client, user, iren, settings):
    settings.CSV_IMPORT_MAX_ROWS = 5
    target = PortfolioFactory(owner=user)
    response = upload(user_client, target, trades_file(6))
    assert response.status_code == 422
    assert (
        "The file has 6 rows; one import takes at most 5. Split it into smaller files."
        in response.content.decode()
    )
    assert not PendingImport.objects.exists()
    assert upload(user_client, target, trades_file(5)).status_code == 200


def test_uploads_per_hour_are_capped(user_client, user, iren, settings):
    settings.CSV_IMPORTS_PER_HOUR = 2
    target = PortfolioFactory(owner=user)
    with time_machine.travel(NOON + dt.timedelta(minutes=48), tick=False):
        assert upload(user_client, target, trades_file(1)).status_code == 200
        assert upload(user_client, target, trades_file(2)).status_code == 200
        response = upload(user_client, target, trades_file(3))
        assert response.status_code == 422
        assert (
            "You have uploaded 2 files for import in this hour, the most one account may. Try "
            "again in 12 minutes." in response.content.decode()
        )
        # Another account has its own budget.
        other_user = UserFactory()
        other = Client()
        other.force_login(other_user)
        assert upload(other, PortfolioFactory(owner=other_user), trades_file(1)).status_code == 200
    with time_machine.travel(NOON + dt.timedelta(minutes=60), tick=False):
        assert upload(user_client, target, trades_file(3)).status_code == 200


# -- new symbols (issue 22, 13) --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_new_symbols_stop_at_twenty(settings):
    """30 adds of new symbols at once by one user: 20 added, 10 refused (it left 21)."""
    settings.INSTRUMENTS_ADDED_PER_USER = 20
    owner = UserFactory()

    def add(index: int):
        return find_or_add_instrument(f"NEW{index:02d}", user=owner)

    results = run_together(30, add)
    refused = [r for r in results if isinstance(r, ValidationError)]
    added = [r for r in results if isinstance(r, Instrument)]
    assert len(added) == 20 and len(refused) == 10, results
    assert {e.code for e in refused} == {"too_many_added"}
    assert Instrument.objects.filter(added_by=owner).count() == 20
    assert Instrument.objects.filter(symbol__startswith="NEW").count() == 20
