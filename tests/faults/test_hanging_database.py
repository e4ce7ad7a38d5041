"""A database that accepts connections and never answers: the site says so within seconds.

The site runs under gunicorn with DEBUG=0, its DATABASE_URL pointing at a listener that accepts
and stays silent (the defaults: DB_CONNECT_TIMEOUT 2 s, HEALTHZ_TIMEOUT 2 s)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


def _get(url: str) -> tuple[int, bytes, float, dict]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, body, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, body, headers = error.code, error.read(), dict(error.headers)
    return status, body, time.monotonic() - started, headers


def test_healthz_and_pages_answer_503_within_5_seconds(silent_listener, start_site):
    site = start_site(DATABASE_URL=f"postgres://postgres@127.0.0.1:{silent_listener.port}/mw")
    # The worker's first request loads the URLconf and every view module (NumPy and pandas
    # among them), which takes seconds on a busy machine whatever the database does.
    assert _get(site.url + "/healthz")[0] == 503

    status, body, elapsed, _ = _get(site.url + "/healthz")
    assert status == 503
    assert elapsed < 5, elapsed
    assert json.loads(body) == {
        "status": "unavailable",
        "database": "error",
        "cache": "ok",
        "broker": "ok",
    }
    assert str(silent_listener.port).encode() not in body  # the detail is in the log only

    for path in ("/", "/miners/IREN/", "/miners/?q=IREN"):
        # A page's first request in the worker also imports what its view needs (the market
        # calendar among them): seconds on a busy machine, whatever the database does.
        _get(site.url + path)
        status, body, elapsed, headers = _get(site.url + path)
        assert status == 503, (path, body[:300])
        assert elapsed < 5, (path, elapsed)
        assert headers["Retry-After"] == "30"
        assert b"cannot reach its database" in body

    assert "healthz: database did not answer within 2.0 s" in site.log()
