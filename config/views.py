"""Site-wide endpoints that belong to no app: the health check and the server-error page.

`/healthz` checks the database, the cache and the Celery broker at the same time, each in a
thread of its own, and waits at most HEALTHZ_TIMEOUT seconds for all of them: a dependency that
has not answered by then is reported down, however long it would have hung. The public sees
"ok" or "error" per dependency; what went wrong (host names, driver messages) goes to the log.
"""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

log = logging.getLogger(__name__)

# Threads that outlive a check (a dependency that hangs) finish in the background; a few spare
# workers keep the next checks from queueing behind them.
_checks = ThreadPoolExecutor(max_workers=9, thread_name_prefix="healthz")


def _redis_ping(url: str) -> None:
    timeout = settings.HEALTHZ_TIMEOUT
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def _check_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this thread's own connection


def _check_cache() -> None:
    url = settings.REDIS_URL
    if url:
        _redis_ping(url)
        return
    key = "healthz:probe"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise RuntimeError("the cache did not return what was stored")


def _check_broker() -> None:
    url = str(celery_app.conf.broker_url)
    if url.startswith(("redis://", "rediss://")):
        _redis_ping(url)
        return
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def dependency_states() -> dict[str, str]:
    """{"database": "ok" | "error", ...}, within HEALTHZ_TIMEOUT seconds; failures logged."""
    deadline = time.monotonic() + settings.HEALTHZ_TIMEOUT
    futures = {name: _checks.submit(check) for name, check in CHECKS.items()}
    states = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            log.error("healthz: %s did not answer within %s s", name, settings.HEALTHZ_TIMEOUT)
            states[name] = "error"
        except Exception as exc:
            log.error("healthz: %s failed: %s: %s", name, exc.__class__.__name__, exc)
            states[name] = "error"
        else:
            states[name] = "ok"
    return states


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = dependency_states()
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database that cannot be reached (or timed out) is a 503 the client may
    retry, not a bug; the page is plain HTML, since templates and context processors may need
    the very database that failed."""
    # OperationalError covers a refused or timed-out connection and a statement cancelled by
    # PostgreSQL's statement_timeout (psycopg's QueryCanceled).
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = HttpResponse(
            "<!doctype html><title>Unavailable</title><h1>Service unavailable</h1>"
            "<p>Minerwatch cannot reach its database just now. Try again in a minute.</p>",
            status=503,
        )
        response["Retry-After"] = "30"
        return response
    return HttpResponseServerError(
        "<!doctype html><title>Server error</title><h1>Server error</h1>"
        "<p>Something went wrong on our side; it has been logged.</p>"
    )
