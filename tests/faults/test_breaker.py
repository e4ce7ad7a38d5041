"""The circuit breaker on its own: a Redis that accepts connections and never answers costs one
timeout, not one per cache call."""

from __future__ import annotations

import time

from django.core.cache import caches

from config.breaker import breaker_for
from tests.faults.conftest import wait_until

OPTIONS = {
    "CLIENT_CLASS": "config.breaker.BreakerClient",
    "SOCKET_CONNECT_TIMEOUT": 0.5,
    "SOCKET_TIMEOUT": 0.5,
    "BREAKER_PROBE_SECONDS": 0.2,
}


def _cache_on(settings, url: str, recovery=None):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {**OPTIONS, "BREAKER_RECOVERY": recovery},
        }
    }
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    return caches["default"]


def test_a_hanging_redis_costs_one_timeout_then_is_skipped(settings, silent_listener):
    cache = _cache_on(settings, f"redis://127.0.0.1:{silent_listener.port}/0")
    started = time.monotonic()
    assert cache.get("a", "missed") == "missed"
    first = time.monotonic() - started
    started = time.monotonic()
    for number in range(50):
        assert cache.get(f"k{number}") is None
        cache.set(f"k{number}", number)
        assert cache.get_many(["x", "y"]) == {}
    rest = time.monotonic() - started
    assert 0.4 < first < 2
    assert rest < 0.5, rest  # 150 calls, none of them waiting on the socket
    assert breaker_for(f"redis://127.0.0.1:{silent_listener.port}/0", OPTIONS).is_open


def test_the_cache_is_used_again_once_redis_answers_after_the_recovery_ran(settings, redis_server):
    calls = []
    cache = _cache_on(settings, redis_server.url, recovery=lambda: calls.append("recovered"))
    cache.set("kept", "before")
    breaker = breaker_for(redis_server.url, OPTIONS)
    redis_server.pause(1500)
    assert cache.get("kept") is None  # times out, opens the breaker
    assert breaker.is_open
    assert cache.get("kept") is None  # skipped at once
    wait_until(lambda: not breaker.is_open, seconds=10, what="the breaker to close")
    assert calls == ["recovered"]
    assert cache.get("kept") == "before"
