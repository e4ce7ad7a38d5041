"""How the Yahoo provider talks HTTP: the session handed to yfinance, what it notes of each
response, and the one call into yfinance's internals (`yahoo_get`).

The session: every call hands yfinance one HTTP session through its public `session=` argument.
By default that is one per process (`process_session()`: curl_cffi impersonating a browser, as
yfinance's own default), so the cookie and crumb are fetched once per process whichever provider
instance asks. Statuses and Retry-After headers, which yfinance does not pass on (it turns a 429
into YFRateLimitError), are noted by a response hook (requests' public `hooks`) or by
`YahooSession` itself; nothing of yfinance's is patched.

The private calls: yfinance has no public API for Yahoo's batch quote (v7 `quote?symbols=`)
or for a single quoteSummary module, so `yahoo_get` makes those requests through yfinance's
internal `YfData` (for its cookie and crumb); and yfinance keeps the answers of some requests
for the life of the process (a symbol's time-zone lookup among them, 404s included), which
`forget_kept_answers` clears so that Yahoo is asked again. Both raise YahooContractBroken when
yfinance changes shape; tests/market/test_yahoo_contract.py runs them on the recorded payloads,
and pyproject.toml pins yfinance to 1.7.x.

yfinance's persistent caches (time zones, cookie) live under VAR_DIR (`use_cache_directory`),
never in the home directory.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from curl_cffi import requests as curl_requests
from django.conf import settings

from .base import ProviderError


class YahooContractBroken(ProviderError):
    """yfinance's internals no longer look the way `yahoo_get` relies on (an upgrade changed
    them): not retried, since retrying cannot help."""


class _LastResponse(threading.local):
    """What the last HTTP response on this thread said (yfinance turns a 429 into
    YFRateLimitError and drops the Retry-After header)."""

    status: int | None = None
    retry_after: float | None = None
    # (status, URL) of each response while `answers()` collects them.
    answers: list[tuple[int, str]] | None = None


last_response = _LastResponse()


def note_response(response: Any, *args: Any, **kwargs: Any) -> None:
    """A requests response hook: remember the status, and Retry-After of a 429."""
    last_response.status = response.status_code
    last_response.retry_after = None
    if response.status_code == 429:
        last_response.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if last_response.answers is not None:
        last_response.answers.append((response.status_code, str(getattr(response, "url", ""))))


@contextlib.contextmanager
def answers() -> Iterator[list[tuple[int, str]]]:
    """The (status, URL) of every HTTP response this thread receives inside the block: what
    Yahoo answered now, as opposed to what yfinance kept of an earlier answer."""
    collected: list[tuple[int, str]] = []
    outer, last_response.answers = last_response.answers, collected
    try:
        yield collected
    finally:
        last_response.answers = outer
        if outer is not None:
            outer.extend(collected)


_cache_directory: str | None = None


def use_cache_directory(directory: str | Path) -> None:
    """Keep yfinance's persistent caches (time zones, cookie, ISINs) in `directory`, through its
    public setting. yfinance opens them on first use: call this before the process's first
    yfinance call."""
    global _cache_directory
    import yfinance

    yfinance.set_tz_cache_location(str(directory))
    _cache_directory = str(directory)


def ensure_cache_directory() -> None:
    """yfinance's caches under VAR_DIR/yfinance, unless this process chose another directory."""
    if _cache_directory is None:
        use_cache_directory(Path(settings.VAR_DIR) / "yfinance")


def forget_kept_answers() -> None:
    """Drop the answers yfinance keeps for the life of the process (`YfData.cache_get`, an LRU
    cache of GETs: a symbol's time-zone lookup, past chart ranges, searches), so that the next
    call asks Yahoo again. THE SECOND USE OF YFINANCE INTERNALS (see the module's docstring)."""
    try:
        from yfinance.data import YfData

        clear = YfData.cache_get.cache_clear
    except (ImportError, AttributeError) as exc:
        raise YahooContractBroken(f"yfinance.data.YfData.cache_get is gone: {exc}") from exc
    clear()


class YahooSession(curl_requests.Session):
    """curl_cffi's session (what yfinance uses by default), noting each response's status."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        note_response(response)
        return response


_process_session: YahooSession | None = None
_process_session_lock = threading.Lock()


def process_session() -> YahooSession:
    """The session every default YahooProvider of this process hands to yfinance."""
    global _process_session
    with _process_session_lock:
        if _process_session is None:
            # MARKET_DATA_PROXY: an HTTP(S) proxy for every Yahoo request, when set.
            proxy = getattr(settings, "MARKET_DATA_PROXY", "") or None
            _process_session = YahooSession(impersonate="chrome", proxy=proxy)
        return _process_session


def observe(session: Any) -> Any:
    """Add `note_response` to a requests session's response hooks (once); YahooSession notes
    responses itself."""
    hooks = getattr(session, "hooks", None)
    if isinstance(hooks, dict):
        response_hooks = hooks.setdefault("response", [])
        if note_response not in response_hooks:
            response_hooks.append(note_response)
    return session


def yahoo_get(session: Any, url: str, params: dict, timeout: float) -> tuple[int, Any, bytes]:
    """(status, headers, body) of a GET of one of Yahoo's JSON APIs, with yfinance's cookie and
    crumb. THE ONE USE OF YFINANCE INTERNALS: `yfinance.data.YfData(session=...)` (yfinance's
    process-wide holder of cookie and crumb; `yf.Ticker(session=)` does the same call) and its
    `get(url, params=, timeout=)`, which adds the crumb and returns the HTTP response.

    Raises YahooContractBroken if those are gone or answer something else; what yfinance raises
    on the way (rate limits, network errors) passes through."""
    try:
        from yfinance.data import YfData

        get = YfData(session=session).get
    except (ImportError, AttributeError, TypeError) as exc:
        raise YahooContractBroken(f"yfinance.data.YfData(session=).get is gone: {exc}") from exc
    try:
        response = get(url, params=params, timeout=timeout)
    except TypeError as exc:
        if "argument" in str(exc):
            raise YahooContractBroken(f"YfData.get's signature changed: {exc}") from exc
        raise
    status = getattr(response, "status_code", None)
    content = getattr(response, "content", None)
    if not isinstance(status, int) or not isinstance(content, bytes):
        raise YahooContractBroken(f"YfData.get returned {type(response).__name__}, no response")
    return status, getattr(response, "headers", None) or {}, content


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
