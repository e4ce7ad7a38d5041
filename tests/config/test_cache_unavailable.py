"""The Redis cache when Redis does not answer (nothing listens on port 1): django-redis with
DJANGO_REDIS_IGNORE_EXCEPTIONS makes every read a miss and every write a no-op, logged once
per 30 seconds, never raised."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import caches

from config import versions


@pytest.fixture
def unreachable(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1.0},
        }
    }
    return caches["default"]


@pytest.fixture
def fresh_log_filter(monkeypatch):
    """The logger's once-per-interval filter, as if nothing had been logged yet."""
    (once,) = logging.getLogger("minerwatch.cache").filters
    monkeypatch.setattr(once, "_last", float("-inf"))
    return once


def test_every_operation_degrades_instead_of_raising(unreachable, fresh_log_filter, caplog):
    backend = unreachable
    with caplog.at_level(logging.ERROR, logger="minerwatch.cache"):
        assert backend.get("k") is None
        assert backend.get("k", "fallback") == "fallback"
        assert backend.get_many(["a", "b"]) == {}
        assert not backend.has_key("k")
        assert not backend.add("k", 1)
        assert backend.set("k", 1) is None
        assert not backend.set_many({"a": 1})
        assert not backend.delete("k")
        assert not backend.delete_many(["a"])
    # (django-redis leaves touch() out of its exception handling; nothing here calls it.)
    # Logged once per interval, not once per call.
    assert [r.getMessage() for r in caplog.records] == ["Exception ignored"]
    assert "127.0.0.1:1" in caplog.text


def test_an_unreadable_version_token_is_empty_never_a_default(db, unreachable, fresh_log_filter):
    """Callers treat "" as "cannot tell": no ETag, no shared page."""
    assert versions.current([versions.MARKET, versions.user_key(1)]) == ("", "")
    versions.market_changed()  # a write while Redis is away does not raise
