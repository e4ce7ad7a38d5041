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

    def get(self, key, default):
        try:
            return super().get(key, default)
        except UNAVAILABLE as exc:
            _unavailable("get", exc)
            return default

    def get_many(self, keys):
        try:
            return super().get_many(keys)
        except UNAVAILABLE as exc:
            _unavailable("get_many", exc)
            return {}

    def has_key(self, key):
        try:
            return super().has_key(key)
        except UNAVAILABLE as exc:
            _unavailable("has_key", exc)
            return False

    def add(self, key, value, timeout):
        try:
            return super().add(key, value, timeout)
        except UNAVAILABLE as exc:
            _unavailable("add", exc)
            return False

    def set(self, key, value, timeout):
        try:
            super().set(key, value, timeout)
        except UNAVAILABLE as exc:
            _unavailable("set", exc)

    def set_many(self, data, timeout):
        try:
            super().set_many(data, timeout)
        except UNAVAILABLE as exc:
            _unavailable("set_many", exc)

    def touch(self, key, timeout):
        try:
            return super().touch(key, timeout)
        except UNAVAILABLE as exc:
            _unavailable("touch", exc)
            return False

    def delete(self, key):
        try:
            return super().delete(key)
        except UNAVAILABLE as exc:
            _unavailable("delete", exc)
            return False

    def delete_many(self, keys):
        try:
            super().delete_many(keys)
        except UNAVAILABLE as exc:
            _unavailable("delete_many", exc)


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _RedisCacheClient

    def validate_key(self, key):
        """Django checks every key, character by character, against memcached's limits (length,
        spaces, control characters) to warn about portability; Redis takes any key, and the
        check costs microseconds on every call of a page served from the cache."""
