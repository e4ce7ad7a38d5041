"""The contract of the private yfinance calls (`yahoo_get` through `yfinance.data.YfData`, and
`forget_kept_answers` through `YfData.cache_get`): these tests fail when a yfinance release
changes what the Yahoo provider relies on."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yfinance

from market.providers.yahoo import QUOTE_SUMMARY_URL, QUOTE_URL, YahooProvider
from market.providers.yahoo_http import YahooContractBroken, forget_kept_answers, yahoo_get
from tests.market.yahoo_transport import (
    CRUMB,
    YahooTransport,
    load,
    recorded_yfinance,
    session_for,
)

ROOT = Path(__file__).resolve().parents[2]
READ_FIELDS = ["symbol", "regularMarketPrice", "regularMarketTime", "marketState"]
READ_FIELDS += ["regularMarketPreviousClose", "currency", "marketCap", "quoteType"]


@pytest.fixture
def transport():
    with recorded_yfinance():
        yield YahooTransport()


def test_yfinance_is_the_pinned_minor_version():
    assert yfinance.__version__.startswith("1.7."), yfinance.__version__


def test_yfdata_get_has_the_signature_we_call():
    from yfinance.data import YfData

    parameters = inspect.signature(YfData.get).parameters
    assert list(parameters)[:4] == ["self", "url", "params", "timeout"]
    assert "session" in inspect.signature(YfData.__init__).parameters


@pytest.mark.parametrize("symbol", ["AAPL", "BTC-USD"])
def test_batch_quote_returns_the_recorded_body_with_the_crumb(transport, symbol):
    session = session_for(transport)
    params = {"symbols": symbol, "formatted": "false", "lang": "en-US", "region": "US"}

    status, headers, content = yahoo_get(session, QUOTE_URL, params, 10)

    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert json.loads(content) == load(f"quote_v7_{symbol}.json")
    request = transport.requests[-1]
    query = {key: values[-1] for key, values in parse_qs(urlsplit(request.url).query).items()}
    assert query == params | {"crumb": CRUMB}  # YfData added the crumb, nothing else


def test_batch_quote_fields_the_provider_reads_are_in_the_recordings():
    # What the provider reads of a quote (yahoo_quotes._quote), in both recorded v7 answers.
    for symbol in ("AAPL", "BTC-USD"):
        (result,) = load(f"quote_v7_{symbol}.json")["quoteResponse"]["result"]
        for key in READ_FIELDS:
            assert key in result, (symbol, key)


def test_single_module_quote_summary(transport):
    status, _, content = yahoo_get(
        session_for(transport),
        f"{QUOTE_SUMMARY_URL}/AAPL",
        {"modules": "defaultKeyStatistics", "formatted": "false"},
        10,
    )
    assert status == 200
    statistics = json.loads(content)["quoteSummary"]["result"][0]["defaultKeyStatistics"]
    assert statistics["enterpriseValue"] == 3731694026752


def test_missing_yfdata_is_a_loud_error(transport, monkeypatch):
    import yfinance.data

    monkeypatch.delattr(yfinance.data, "YfData")
    with pytest.raises(YahooContractBroken, match="YfData"):
        YahooProvider(session=session_for(transport)).fetch_quotes(["AAPL"])


def test_yfdata_get_answering_something_else_is_a_loud_error(transport, monkeypatch):
    import yfinance.data

    monkeypatch.setattr(yfinance.data.YfData, "get", lambda self, url, params, timeout: {})
    with pytest.raises(YahooContractBroken, match="returned dict"):
        YahooProvider(session=session_for(transport)).fetch_quotes(["AAPL"])


def test_yfinance_keeps_an_answer_until_it_is_forgotten(transport):
    # What yfinance asks through YfData.cache_get (a symbol's time zone) it asks once per
    # process, 404s included, until forget_kept_answers drops what it kept.
    from yfinance.data import YfData

    data = YfData(session=session_for(transport))
    url = "https://query2.finance.yahoo.com/v8/finance/chart/XKEPT"
    params = {"range": "1d", "interval": "1d"}
    assert data.cache_get(url=url, params=params, timeout=10).status_code == 404
    asked = transport.count("/v8/finance/chart/XKEPT")  # its 404 is retried with a new crumb
    assert data.cache_get(url=url, params=params, timeout=10).status_code == 404
    assert transport.count("/v8/finance/chart/XKEPT") == asked  # answered from what it kept
    forget_kept_answers()
    assert data.cache_get(url=url, params=params, timeout=10).status_code == 404
    assert transport.count("/v8/finance/chart/XKEPT") == 2 * asked


def test_a_missing_answer_cache_is_a_loud_error(monkeypatch):
    import yfinance.data

    monkeypatch.delattr(yfinance.data.YfData, "cache_get")
    with pytest.raises(YahooContractBroken, match="cache_get"):
        forget_kept_answers()


def test_yfinances_caches_are_under_var_dir(tmp_path):
    # A fresh process that names no directory: yfinance keeps its cookie under VAR_DIR/yfinance.
    code = "from tests.market.yahoo_transport import count_quote_requests\ncount_quote_requests()\n"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = "import django\ndjango.setup()\n" + code
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in (tmp_path / "yfinance").iterdir()) == ["cookies.db"]


def test_cookie_and_crumb_once_per_process_then_one_request_per_refresh(tmp_path):
    # A fresh process with empty yfinance caches: the first refresh fetches the cookie and the
    # crumb, then every refresh of the 23 symbols is one request.
    code = (
        "from tests.market.yahoo_transport import count_quote_requests, use_cache_directory\n"
        f"use_cache_directory({str(tmp_path)!r})\n"
        "print(count_quote_requests())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[3, 1]"


def test_the_process_session_notes_statuses_and_retry_after():
    # YahooSession (curl_cffi) against a local server: the status and Retry-After yfinance
    # would drop are noted for the provider.
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from market.providers.yahoo_http import YahooSession, last_response

    class TooMany(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(429)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TooMany)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = YahooSession().get(f"http://127.0.0.1:{server.server_port}/v7/finance/quote")
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 429
    assert (last_response.status, last_response.retry_after) == (429, 7.0)
