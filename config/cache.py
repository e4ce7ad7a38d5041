"""Django's Redis cache, with one redis-py client per pool, that degrades to "no cache" when
Redis does not answer.

- Django's RedisCacheClient builds a new `redis.Redis` around the shared connection pool for
  every cache operation, and redis-py fills a table of some 170 response callbacks in each
  constructor: about 0.15 ms of CPU per get or set, more than the Redis round trip itself, paid
  twice on a page served from the page cache. A redis.Redis is safe to share between threads
  (each command takes a connection from the pool), so one per pool is enough; redis-py's pool
  resets itself in a forked process.
- Everything the site keeps in the cache can be computed again (pages, fragments, sessions are
  cached_db), so when Redis is down or slow a read is a miss and a write is skipped, with an
  error in the log (at most every LOG_EVERY seconds per process), instead of a server error on
  every page. /healthz still reports the broker down. The price: sign-in rate limits, which
  live in the cache, do not count while Redis is away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends import redis as django_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
LOG_EVERY = 30.0
_last_logged = 0.0


def _unavailable(operation: str, exc: Exception) -> None:
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= LOG_EVERY:
        _last_logged = now
        log.error("cache unavailable, serving without it (%s): %s", operation, exc)


class _RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


def _tolerant(operation: str, fallback: Callable[..., Any]):
    """Django's `operation`, answering `fallback(*args)` when Redis does not answer."""
    method = getattr(django_redis.RedisCacheClient, operation)

    def tolerant(self, *args):
        try:
            return method(self, *args)
        except UNAVAILABLE as exc:
            _unavailable(operation, exc)
            return fallback(*args)

    tolerant.__name__ = operation
    return tolerant


# What each operation answers while Redis is away: a read is a miss, a write did not happen.
_FALLBACKS: dict[str, Callable[..., Any]] = {
    "get": lambda key, default: default,
    "get_many": lambda keys: {},
    "has_key": lambda key: False,
    "add": lambda key, value, timeout: False,
    "set": lambda key, value, timeout: None,
    "set_many": lambda data, timeout: None,
    "touch": lambda key, timeout: False,
    "delete": lambda key: False,
    "delete_many": lambda keys: None,
}
for _operation, _fallback in _FALLBACKS.items():
    setattr(_RedisCacheClient, _operation, _tolerant(_operation, _fallback))


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _RedisCacheClient

    def validate_key(self, key):
        """Django checks every key, character by character, against memcached's limits (length,
        spaces, control characters) to warn about portability; Redis takes any key, and the
        check costs microseconds on every call of a page served from the cache."""
