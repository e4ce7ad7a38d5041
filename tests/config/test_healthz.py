"""/healthz reports the database and the broker, and fails with 503 when either does not answer."""

import pytest
from django.db import OperationalError, connection

from config.celery import app


@pytest.mark.django_db
def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_database_down(client):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")

    with connection.execute_wrapper(refuse):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("error: OperationalError")
    assert body["broker"] == "ok"


@pytest.mark.django_db
def test_broker_down(client, monkeypatch):
    # Nothing listens on port 1: a real connection attempt that fails. The health check opens a
    # connection of its own, so the app's producer pool is left alone.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")
