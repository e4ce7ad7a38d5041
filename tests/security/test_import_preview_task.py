"""A large upload is previewed by a Celery task (a real worker) while the page shows how far it
got: htmx polls the progress; without JavaScript the page refreshes itself (Refresh header)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portfolios.models import PendingImport, Transaction
from tests.celery_routes import routed_to
from tests.factories import InstrumentFactory, PortfolioFactory, QuoteFactory

D = Decimal


@pytest.fixture
def preview_worker(celery_worker_process, settings):
    """The worker of the test consumes the import previews."""
    settings.CSV_IMPORT_INLINE_ROWS = 5
    with routed_to(celery_worker_process.queue, "portfolios.tasks.preview_pending_import"):
        yield celery_worker_process


@pytest.fixture
def iren(transactional_db):
    instrument = InstrumentFactory(symbol="IREN", name="IREN Ltd")
    QuoteFactory(instrument=instrument, price=D("40.00"), previous_close=D("38.00"))
    return instrument


def trades_file(rows: int) -> bytes:
    lines = ["Date,Symbol,Type,Quantity,Price"]
    lines += [f"2025-01-{2 + n % 27:02d},IREN,buy,1,{10 + n % 7}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def poll(client, url: str, headers: dict | None = None, seconds: float = 60):
    """GET the progress until it is no longer a 202 (the worker finished)."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get(url, headers=headers or {})
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_without_javascript_the_page_refreshes_until_the_preview_is_ready(
    preview_worker, user_client, user, iren
):
    target = PortfolioFactory(owner=user)
    response = user_client.post(
        f"/portfolios/{target.pk}/import/",
        {"file": SimpleUploadedFile("big.csv", trades_file(30), content_type="text/csv")},
    )
    assert response.status_code == 302  # after the POST, the progress page
    progress_url = response["Location"]
    pending = PendingImport.objects.get()
    assert progress_url == f"/portfolios/{target.pk}/import/check/?sha256={pending.sha256}"

    first = user_client.get(progress_url)
    if first.status_code == 202:  # the worker may already be done
        assert first["Refresh"] == "2"
        page = first.content.decode()
        assert "Checking big.csv" in page
        assert "30 rows to check; nothing has been written yet." in page
    ready = poll(user_client, progress_url)
    assert ready.status_code == 200, preview_worker.log()[-3000:]
    assert "Refresh" not in ready
    page = ready.content.decode()
    assert "30 rows will be written, 0 skipped" in page
    assert "Import 30 transactions" in page
    assert PendingImport.objects.get().state == "ready"
    assert not Transaction.objects.exists()  # a preview writes nothing

    confirmed = user_client.post(
        f"/portfolios/{target.pk}/import/confirm/", {"sha256": pending.sha256}
    )
    assert confirmed.status_code == 302
    assert Transaction.objects.filter(portfolio=target).count() == 30
    assert not PendingImport.objects.exists()


def test_with_htmx_the_panel_polls_its_progress(preview_worker, user_client, user, iren):
    target = PortfolioFactory(owner=user)
    htmx = {"HX-Request": "true"}
    response = user_client.post(
        f"/portfolios/{target.pk}/import/",
        {"file": SimpleUploadedFile("big.csv", trades_file(12), content_type="text/csv")},
        headers=htmx,
    )
    assert response.status_code == 202
    pending = PendingImport.objects.get()
    progress_url = f"/portfolios/{target.pk}/import/check/?sha256={pending.sha256}"
    panel = response.content.decode()
    assert f'hx-get="{progress_url.replace("&", "&amp;")}" hx-trigger="every 1s"' in panel
    assert "<html" not in panel  # the panel alone
    ready = poll(user_client, progress_url, headers=htmx)
    assert ready.status_code == 200
    panel = ready.content.decode()
    assert "12 rows will be written" in panel
    assert "hx-trigger" not in panel  # the polling ends with the preview


def test_a_file_the_task_cannot_read_is_refused_on_the_page(
    preview_worker, user_client, user, iren
):
    target = PortfolioFactory(owner=user)
    lines = ["Date,Type,Quantity,Price"] + ["2025-01-02,buy,1,10"] * 8  # no symbol column
    response = user_client.post(
        f"/portfolios/{target.pk}/import/",
        {"file": SimpleUploadedFile("bad.csv", "\n".join(lines).encode(), "text/csv")},
    )
    refused = poll(user_client, response["Location"])
    assert refused.status_code == 422
    assert 'id="import-refusal"' in refused.content.decode()
    assert not PendingImport.objects.exists()
