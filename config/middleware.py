"""Request logging: one line per request with its method, path, status and time in milliseconds."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("minerwatch.requests")


class RequestLogMiddleware:
    """Log `GET /miners/IREN/ 200 12.3ms` once per request, whoever serves it.

    It sits first in MIDDLEWARE so the time covers the whole stack, static files included, and the
    line looks the same under runserver (`make run`) and gunicorn. htmx requests are marked, since
    a page that polls shows up as many small requests.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        except Exception:
            # Django turns exceptions into 500 responses below this middleware; this only runs when
            # something escapes anyway, and the line still says how long it took.
            self._log(request, 500, started)
            raise
        self._log(request, response.status_code, started)
        return response

    @staticmethod
    def _log(request: HttpRequest, status: int, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        extra = " htmx" if request.headers.get("HX-Request") == "true" else ""
        level = logging.INFO if status < 500 else logging.ERROR
        logger.log(
            level,
            "%s %s %d %.1fms%s",
            request.method,
            request.get_full_path(),
            status,
            elapsed_ms,
            extra,
            extra={"status_code": status, "duration_ms": round(elapsed_ms, 1)},
        )


class PrivateCacheControlMiddleware:
    """Responses to a signed-in browser (one that sends a session cookie) are its own: a
    response that says nothing about caching gets `Cache-Control: private`, so that no shared
    cache or proxy keeps it for someone else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response and (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            or settings.SESSION_COOKIE_NAME in response.cookies
        ):
            response["Cache-Control"] = "private"
        return response
