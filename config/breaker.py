"""A circuit breaker for the Redis cache: a django-redis client class.

A Redis that hangs (paused, swapping, a network that drops packets) costs every cache call its
full socket timeout, and a page makes a dozen calls. After the first call that fails with a
timeout or a connection error, `BreakerClient` skips Redis altogether (each call fails at once
with django-redis's ConnectionInterrupted, which DJANGO_REDIS_IGNORE_EXCEPTIONS turns into a
miss or a skipped write), and one background thread per process asks Redis for a PING every
`BREAKER_PROBE_SECONDS` with short timeouts. When Redis answers again, the thread first runs
`BREAKER_RECOVERY` (a dotted path: the version tokens are replaced, because writes made while
the cache was away could not replace theirs), then lets calls through again.

Configure it with the cache's options:

    "OPTIONS": {
        "CLIENT_CLASS": "config.breaker.BreakerClient",
        "BREAKER_PROBE_SECONDS": 1.0,
        "BREAKER_RECOVERY": "config.versions.forget_all",
    }
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from django.utils.module_loading import import_string
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, socket.timeout, ConnectionError)


class CircuitOpen(RedisConnectionError):
    """The cache is skipped: it did not answer a moment ago."""


# The thread that runs the recovery hook must reach Redis while everyone else still skips it.
_bypass = threading.local()


class Breaker:
    """The state of one Redis server as seen by this process (shared by its threads)."""

    def __init__(self, url: str, *, probe_seconds: float, recovery: Callable[[], Any] | None):
        self.url = url
        self.probe_seconds = probe_seconds
        self.recovery = recovery
        self.opened_at: float | None = None  # monotonic; None while Redis answers
        self._lock = threading.Lock()
        self._prober_pid: int | None = None

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def allows(self) -> bool:
        if self.opened_at is None or getattr(_bypass, "active", False):
            return True
        if self._prober_pid != os.getpid():
            self._start_prober()  # a process forked while the breaker was open
        return False

    def trip(self, exc: BaseException) -> None:
        with self._lock:
            if self.opened_at is None:
                self.opened_at = time.monotonic()
                log.error("cache unreachable, skipping it until it answers: %s", exc)
        self._start_prober()

    def _start_prober(self) -> None:
        with self._lock:
            if self._prober_pid == os.getpid() or self.opened_at is None:
                return
            self._prober_pid = os.getpid()
        threading.Thread(target=self._probe, name="cache-breaker-probe", daemon=True).start()

    def _answers(self) -> bool:
        timeout = max(0.1, self.probe_seconds)
        client = redis.Redis.from_url(
            self.url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            return bool(client.ping())
        except UNREACHABLE:
            return False
        finally:
            client.close()

    def _probe(self) -> None:
        while True:
            time.sleep(self.probe_seconds)
            if _breakers.get(self.url) is not self:
                return  # forgotten (`forget_breakers`)
            if not self._answers():
                continue
            _bypass.active = True
            try:
                if self.recovery is not None:
                    self.recovery()
            except Exception:
                # The hook could not finish (Redis went away again): keep skipping, try later.
                log.exception("cache answers again, but its recovery failed")
                continue
            finally:
                _bypass.active = False
            with self._lock:
                away = time.monotonic() - (self.opened_at or time.monotonic())
                self.opened_at = None
                self._prober_pid = None
            log.warning("cache answers again after %.1f s; version tokens replaced", away)
            return


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def forget_breakers() -> None:
    """Drop every breaker of this process (their probes stop): for tests."""
    with _breakers_lock:
        _breakers.clear()


def breaker_for(url: str, options: dict) -> Breaker:
    with _breakers_lock:
        found = _breakers.get(url)
        if found is None:
            recovery = options.get("BREAKER_RECOVERY")
            found = _breakers[url] = Breaker(
                url,
                probe_seconds=float(options.get("BREAKER_PROBE_SECONDS", 1.0)),
                recovery=import_string(recovery) if isinstance(recovery, str) else recovery,
            )
        return found


def _guarded(method: Callable) -> Callable:
    @wraps(method)
    def guarded(self: BreakerClient, *args, **kwargs):
        if not self.breaker.allows():
            raise ConnectionInterrupted(connection=None) from CircuitOpen("cache skipped")
        try:
            return method(self, *args, **kwargs)
        except ConnectionInterrupted as exc:
            if isinstance(exc.__cause__, UNREACHABLE) and not isinstance(
                exc.__cause__, CircuitOpen
            ):
                self.breaker.trip(exc.__cause__)
            raise

    return guarded


class BreakerClient(DefaultClient):
    """django-redis's default client, skipping Redis while its breaker is open."""

    def __init__(self, server, params: dict[str, Any], backend) -> None:
        super().__init__(server, params, backend)
        self.breaker = breaker_for(self._server[0], self._options)


# Every operation that talks to Redis; the helpers (keys, encoding, connections) are left alone.
_NOT_OPERATIONS = {
    "make_key",
    "make_pattern",
    "encode",
    "decode",
    "connect",
    "disconnect",
    "close",
    "do_close_clients",
    "get_client",
    "get_client_with_index",
    "get_next_client_index",
    "iter_keys",
    "sscan_iter",
    "lock",
}
for _name, _method in vars(DefaultClient).items():
    if not _name.startswith("_") and callable(_method) and _name not in _NOT_OPERATIONS:
        setattr(BreakerClient, _name, _guarded(_method))
