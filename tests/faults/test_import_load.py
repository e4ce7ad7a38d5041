"""One user's imports never hold another user's writes (issue 22, 10), on PostgreSQL.

A ledger write locks only the writer's own rows (select_for_update(of=("self",))), never the
shared instrument; a large upload is previewed by a worker, not in a web request; so while one
user's 10,000-row file is checked, another user's trade on the same symbol is written within a
second, and four uploads at once are each answered at once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections, transaction
from django.test import Client

from portfolios.models import PendingImport, Transaction
from portfolios.services import record_transaction
from tests.celery_routes import routed_to
from tests.factories import InstrumentFactory, PortfolioFactory, QuoteFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
D = Decimal


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def iren():
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    QuoteFactory(instrument=instrument, price=D("40.00"), previous_close=D("38.00"))
    return instrument


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def big_file(rows: int) -> bytes:
    """Buys and some sells of IREN over 2015-2025: a ledger to check, not only rows to store."""
    lines = ["Date,Symbol,Type,Quantity,Price,Fee"]
    day = dt.date(2015, 1, 5)
    for n in range(rows):
        kind, quantity = ("sell", 5) if n % 3 == 2 else ("buy", 10)
        when = day + dt.timedelta(days=n // 3)
        lines.append(f"{when:%Y-%m-%d},IREN,{kind},{quantity},{20 + n % 13}.25,0.5")
    return ("\n".join(lines) + "\n").encode()


def trade_of(client: Client, portfolio, day: str) -> tuple[int, float]:
    """Record a buy of IREN through the trade form; (status, seconds it took)."""
    started = time.monotonic()
    response = client.post(
        f"/portfolios/{portfolio.pk}/transactions/new/",
        {
            "symbol": "IREN",
            "kind": "buy",
            "trade_date": day,
            "quantity": "2",
            "price": "41.5",
            "fee": "0",
        },
    )
    return response.status_code, time.monotonic() - started


def test_an_open_ledger_write_does_not_hold_another_users_trade(iren):
    """User A's transaction on IREN stays open (its holding locked); user B's trade on IREN is
    written at once. Locking the instrument row too made B wait for A's commit."""
    mine = PortfolioFactory(owner=UserFactory(), name="A")
    theirs = PortfolioFactory(owner=UserFactory(), name="B")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                record_transaction(
                    portfolio=mine,
                    instrument=iren,
                    kind="buy",
                    trade_date=dt.date(2025, 1, 6),
                    quantity=D("10"),
                    price=D("40"),
                )
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    client = signed_in(theirs.owner)
    # The process's first request loads every view module: not what is measured here.
    assert client.get(f"/portfolios/{theirs.pk}/transactions/new/").status_code == 200
    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(30)
        status, seconds = trade_of(client, theirs, "2025-01-07")
    finally:
        release.set()
        holder.join(30)
    assert status == 302
    assert seconds < 1, seconds
    assert Transaction.objects.filter(portfolio=theirs).count() == 1
    assert Transaction.objects.filter(portfolio=mine).count() == 1


def test_during_a_large_import_preview_another_users_trade_is_written_within_a_second(
    celery_worker_process, iren
):
    importer = UserFactory()
    trader = UserFactory()
    target = PortfolioFactory(owner=importer, name="Big import")
    theirs = PortfolioFactory(owner=trader, name="Trading")
    others = [PortfolioFactory(owner=trader, name=f"Other {n}") for n in range(3)]
    content = big_file(10_000)
    with routed_to(celery_worker_process.queue, "portfolios.tasks.preview_pending_import"):
        # The process's first request loads every view module: not what is measured here.
        assert signed_in(trader).get(f"/portfolios/{theirs.pk}/").status_code == 200
        started = time.monotonic()
        response = signed_in(importer).post(
            f"/portfolios/{target.pk}/import/",
            {"file": SimpleUploadedFile("big.csv", content, content_type="text/csv")},
        )
        assert response.status_code == 302
        assert time.monotonic() - started < 3  # stored and queued, not previewed here
        pending = PendingImport.objects.get(portfolio=target)

        # While the worker checks the file against the ledger, trades keep being written.
        timings = []
        deadline = time.monotonic() + 120
        day = dt.date(2025, 2, 3)
        while time.monotonic() < deadline:
            pending.refresh_from_db()
            if pending.state != "checking":
                break
            if pending.step.startswith("Checking"):
                status, seconds = trade_of(signed_in(trader), theirs, f"{day:%Y-%m-%d}")
                assert status == 302
                timings.append(seconds)
                day += dt.timedelta(days=1)
            time.sleep(0.05)
        assert pending.state == "ready", (pending.state, pending.error, pending.step)
        assert len(timings) >= 3, (timings, celery_worker_process.log()[-2000:])
        assert max(timings) < 1, timings

        # Four large uploads at once are each answered at once (they were previewed in the
        # request: 33-81 s each, then a 503).
        clients = [signed_in(trader) for _ in others] + [signed_in(importer)]
        targets = [*others, PortfolioFactory(owner=importer, name="Second")]
        answers: list = [None] * 4

        def post(index: int) -> None:
            try:
                began = time.monotonic()
                answer = clients[index].post(
                    f"/portfolios/{targets[index].pk}/import/",
                    {"file": SimpleUploadedFile("big.csv", content, content_type="text/csv")},
                )
                answers[index] = (answer.status_code, time.monotonic() - began)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert [status for status, _ in answers] == [302] * 4, answers
        assert max(seconds for _, seconds in answers) < 3, answers

    page = signed_in(importer).get(response["Location"])
    assert page.status_code == 200
    assert "10000 rows will be written" in page.content.decode()
    assert Transaction.objects.filter(portfolio=target).count() == 0  # a preview writes nothing
    assert Transaction.objects.filter(portfolio=theirs).count() == len(timings)
