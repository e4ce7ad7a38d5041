"""/healthz reports the database, the cache and the broker, "ok" or "error" each, and fails with
503 when one does not answer; what went wrong is logged, never shown."""

import logging
import threading

import pytest
from django.db import OperationalError

from config import views
from config.celery import app


@pytest.mark.django_db
def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"}
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


@pytest.mark.django_db
def test_database_down_is_an_error_with_the_detail_in_the_log_only(client, monkeypatch, caplog):
    def refuse():
        raise OperationalError("connection to server at 10.0.0.7, port 5432 failed")

    monkeypatch.setitem(views.CHECKS, "database", refuse)
    with caplog.at_level(logging.ERROR, logger="config.views"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "error",
        "cache": "ok",
        "broker": "ok",
    }
    assert b"10.0.0.7" not in response.content
    assert "healthz: database failed: OperationalError: connection to server at 10.0.0.7" in (
        caplog.text
    )


@pytest.mark.django_db
def test_a_check_that_hangs_is_reported_down_after_the_timeout(client, monkeypatch, settings):
    settings.HEALTHZ_TIMEOUT = 0.2
    release = threading.Event()
    monkeypatch.setitem(views.CHECKS, "cache", lambda: release.wait(30))
    try:
        response = client.get("/healthz")
    finally:
        release.set()
    assert response.status_code == 503
    assert response.json()["cache"] == "error"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_broker_down(client, monkeypatch):
    # Nothing listens on port 1: a real connection attempt that fails. The health check opens a
    # connection of its own, so the app's producer pool is left alone.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "error"
