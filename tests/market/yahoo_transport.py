"""Recorded Yahoo Finance responses served to yfinance through a requests transport adapter.

`YahooTransport` answers every request yfinance makes (cookie, crumb, v7 quote, v10
quoteSummary, v8 chart, v1 search) from tests/data/yahoo/, so that yfinance's own request and
parsing code runs, and keeps each request so that callers can count them. Nothing here needs
pytest: bench/ imports `count_quote_requests` to report requests per refresh.

One rule for tests: yfinance keeps, per process, the responses of searches and of chart requests
for past ranges (and its cookie, crumb and looked-up time zones). A request must therefore get the
same answer in every test of a run: a test that changes an answer (a modified chart, an error)
serves it under a symbol, search text or date range that no other test uses.
"""

from __future__ import annotations

import copy
import http.client
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "yahoo"
CRUMB = "haT3oykhHqZ"  # the crumb in the recorded request URLs (see SOURCES.md)

# The 18 miners and 5 benchmarks of the initial universe.
UNIVERSE = [
    "IREN", "WULF", "CIFR", "CLSK", "BITF", "MARA", "RIOT", "CORZ", "HUT", "BTDR", "APLD",
    "HIVE", "BTBT", "GLXY", "CAN", "SLNH", "ABTC", "WYFI",
    "BTC-USD", "WGMI", "NVDA", "SMH", "QQQ",
]  # fmt: skip
ETFS = {"WGMI", "SMH", "QQQ"}


def load(name: str) -> Any:
    """A recorded body from tests/data/yahoo/, parsed."""
    return json.loads((DATA_DIR / name).read_text())


def recorded_quote(symbol: str) -> dict:
    """The one result of a recorded single-symbol v7 quote (AAPL or BTC-USD)."""
    return load(f"quote_v7_{symbol}.json")["quoteResponse"]["result"][0]


def quote_like(template: str, symbol: str, **changes: Any) -> dict:
    """A v7 quote result for `symbol` made from a recorded one: same fields, other symbol."""
    result = copy.deepcopy(recorded_quote(template))
    result.update(symbol=symbol, shortName=f"{symbol} Inc.", longName=f"{symbol} Inc.")
    result.update(changes)
    return result


def pre_market_quote(symbol: str = "AAPL") -> dict:
    """AAPL's recorded v7 result with the price fields of the quoteSummary `price` module that
    was recorded during pre-market (same field names in both APIs)."""
    price = load("quoteSummary_price_AAPL.json")["quoteSummary"]["result"][0]["price"]
    fields = {
        key: value
        for key, value in price.items()
        if key.startswith(("preMarket", "postMarket", "regularMarket"))
        and not key.endswith("Source")
    }
    result = quote_like("AAPL", symbol, **fields, marketState=price["marketState"])
    result["marketCap"] = price["marketCap"]
    result["shortName"], result["longName"] = price["shortName"], price["longName"]
    return result


def universe_quotes(symbols: Sequence[str] = UNIVERSE) -> dict[str, dict]:
    """v7 results for the universe, from the recorded AAPL (equities, ETFs) and BTC-USD ones."""
    quotes = {}
    for symbol in symbols:
        if symbol.endswith("-USD"):
            quotes[symbol] = copy.deepcopy(recorded_quote("BTC-USD")) | {"symbol": symbol}
        elif symbol in ETFS:
            quotes[symbol] = quote_like("AAPL", symbol, quoteType="ETF", typeDisp="ETF")
        else:
            quotes[symbol] = quote_like("AAPL", symbol)
    return quotes


@dataclass
class Reply:
    """A canned response; `error` is raised instead when set (timeouts, refused connections)."""

    status: int = 200
    body: Any = b""  # bytes, str, or anything JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None

    def content(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Route = Callable[[requests.PreparedRequest], Reply | None]


class YahooTransport(BaseAdapter):
    """Answers yfinance's requests from recordings; mount it on a requests.Session for https://."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []
        self.unrouted: list[str] = []
        # symbol -> v7 quote result
        self.quotes: dict[str, dict] = {s: recorded_quote(s) for s in ("AAPL", "BTC-USD")}
        # symbol -> chart body (a file name under tests/data/yahoo/ or a parsed body)
        self.charts: dict[str, str | dict] = {
            "AAPL": "chart_AAPL_2020-08-31_to_2020-11-07_1d_div_split.json",
            "BTC-USD": "chart_BTC-USD_2020-01-01_to_2020-01-03_1d.json",
            "QQQ": "chart_QQQ_2020-01-01_to_2020-01-03_1d.json",
        }
        self.key_statistics: dict[str, str | dict] = {
            "AAPL": "quoteSummary_defaultKeyStatistics_AAPL.json"
        }
        self.searches: dict[str, str | dict] = {"AAPL": "search_v1_AAPL.json"}
        # Checked before the recordings, most recent first: (path fragment, reply or route).
        self._overrides: list[tuple[str, Reply | Route]] = []

    # -- test controls ----------------------------------------------------------------------------

    def override(self, path_fragment: str, reply: Reply | Route) -> None:
        """Answer requests whose host+path contains `path_fragment` with `reply`."""
        self._overrides.insert(0, (path_fragment, reply))

    def paths(self) -> list[str]:
        return [urlsplit(r.url).netloc + urlsplit(r.url).path for r in self.requests]

    def count(self, path_fragment: str = "") -> int:
        return sum(path_fragment in path for path in self.paths())

    # -- requests' adapter interface --------------------------------------------------------------

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.requests.append(request)
        reply = self._reply(request)
        if reply.error is not None:
            raise reply.error
        response = requests.Response()
        response.status_code = reply.status
        response.reason = requests.status_codes._codes.get(reply.status, ("",))[0].upper()
        response.headers = CaseInsensitiveDict(
            {"content-type": "application/json;charset=utf-8", **reply.headers}
        )
        response._content = reply.content()
        response._content_consumed = True
        # requests reads Set-Cookie from the raw http.client response; give it one.
        message = http.client.HTTPMessage()
        for name, value in response.headers.items():
            message[name] = value
        response.raw = SimpleNamespace(_original_response=SimpleNamespace(msg=message))
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass

    # -- routing ----------------------------------------------------------------------------------

    def _reply(self, request: requests.PreparedRequest) -> Reply:
        url = urlsplit(request.url)
        where = url.netloc + url.path
        for fragment, reply in self._overrides:
            if fragment in where:
                answer = reply(request) if callable(reply) else reply
                if answer is not None:
                    return answer
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        path = url.path
        if url.netloc == "fc.yahoo.com":
            # Like Yahoo: a 404 page that sets the A3 session cookie yfinance keeps.
            expires = format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)
            cookie = f"A3=d=recorded-cookie; Expires={expires}; Domain=.yahoo.com; Path=/; Secure"
            return Reply(
                status=404, body=b"", headers={"content-type": "text/html", "set-cookie": cookie}
            )
        if path == "/v1/test/getcrumb":
            return Reply(body=CRUMB, headers={"content-type": "text/plain;charset=utf-8"})
        if url.netloc.endswith(("guce.yahoo.com", "consent.yahoo.com")):
            # No consent form: yfinance's csrf cookie strategy gives up and goes back to basic.
            return Reply(body=b"<html><body></body></html>", headers={"content-type": "text/html"})
        if path.startswith("/v7/finance/quote"):
            symbols = [s for s in query.get("symbols", "").split(",") if s]
            results = [copy.deepcopy(self.quotes[s]) for s in symbols if s in self.quotes]
            return Reply(body={"quoteResponse": {"result": results, "error": None}})
        if path.startswith("/v10/finance/quoteSummary/"):
            symbol = unquote(path.rsplit("/", 1)[1])
            modules = query.get("modules", "")
            if modules == "defaultKeyStatistics" and symbol in self.key_statistics:
                return Reply(body=self._body(self.key_statistics[symbol]))
            if symbol in self.quotes:
                # Recorded: what Yahoo says when it has no such module for a known symbol.
                body = load("quoteSummary_error_BTC-USD_defaultKeyStatistics_404.json")
                return Reply(status=404, body=body)
            return Reply(status=404, body=_quote_not_found(symbol))
        if path.startswith("/v8/finance/chart/"):
            symbol = unquote(path.rsplit("/", 1)[1])
            if symbol in self.charts:
                return Reply(body=self._body(self.charts[symbol]))
            return Reply(
                status=404, body=(DATA_DIR / "chart_error_SI_404_delisted.json").read_bytes()
            )
        if path.startswith("/v1/finance/search"):
            text = query.get("q", "")
            if text.upper() in self.searches:
                return Reply(body=self._body(self.searches[text.upper()]))
            return Reply(body=_empty_search())
        self.unrouted.append(request.url)
        return Reply(status=404, body={"error": f"not recorded: {request.url}"})

    @staticmethod
    def _body(source: str | dict) -> bytes:
        if isinstance(source, str):
            return (DATA_DIR / source).read_bytes()
        return json.dumps(source).encode()


def _quote_not_found(symbol: str) -> dict:
    # Shape of the recorded quoteSummary 404, with the description Yahoo gives unknown symbols.
    return {
        "quoteSummary": {
            "result": None,
            "error": {"code": "Not Found", "description": f"Quote not found for symbol: {symbol}"},
        }
    }


def _empty_search() -> dict:
    # Keys of the recorded search response, with nothing found.
    body = load("search_v1_AAPL.json")
    return {key: ([] if isinstance(value, list) else value) for key, value in body.items()} | {
        "count": 0
    }


def session_for(transport: YahooTransport) -> requests.Session:
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    return session


def use_cache_directory(directory: str | Path) -> None:
    """Point yfinance's persistent caches (time zones, cookie, ISINs) at `directory` (the
    provider's own setting, market.providers.yahoo_http), so that tests and bench runs neither
    read nor write those of var/. Call this before the process's first yfinance call."""
    from market.providers.yahoo_http import use_cache_directory as use

    use(directory)


@contextmanager
def recorded_yfinance() -> Iterator[None]:
    """yfinance's public settings for recorded responses: no retries with sleeps between them,
    and exceptions raised rather than logged (as YahooProvider sets). Restored afterwards.

    What yfinance keeps per process (its cookie and crumb, the time zones it looked up) stays
    for the whole run, as in production: a test asserts the requests of a call, never that the
    cookie handshake comes first (test_yahoo_contract.py checks that in a fresh process).
    """
    import yfinance

    saved = (yfinance.config.network.retries, yfinance.config.debug.hide_exceptions)
    yfinance.config.network.retries = 0
    try:
        yield
    finally:
        yfinance.config.network.retries, yfinance.config.debug.hide_exceptions = saved


def count_quote_requests(symbols: Sequence[str] = UNIVERSE, *, refreshes: int = 2) -> list[int]:
    """HTTP requests made by YahooProvider.fetch_quotes(symbols), per refresh, on one provider,
    with recorded responses (in a fresh process the first refresh also fetches yfinance's cookie
    and crumb)."""
    from market.providers.yahoo import YahooProvider

    with recorded_yfinance():
        transport = YahooTransport()
        transport.quotes.update(universe_quotes(symbols))
        provider = YahooProvider(session=session_for(transport))
        counts = []
        for _ in range(refreshes):
            before = len(transport.requests)
            batch = provider.fetch_quotes(symbols)
            if batch.errors or len(batch.items) != len(set(symbols)):
                raise RuntimeError(f"recorded quotes incomplete: {batch.errors}")
            counts.append(len(transport.requests) - before)
        return counts


if __name__ == "__main__":
    import tempfile

    use_cache_directory(tempfile.mkdtemp(prefix="yfinance-"))
    print(f"HTTP requests for {len(UNIVERSE)} quotes per refresh: {count_quote_requests()}")
