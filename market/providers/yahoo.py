"""Yahoo Finance through yfinance: batched quotes, profiles, daily bars with splits and
dividends, search. How it talks HTTP (the session, and the one private yfinance call for the
batch quote) is in yahoo_http.py; how its answers are read, in yahoo_quotes.py (quote results)
and yahoo_bars.py (daily history).

Numbers are cleaned once, as the answers are read: the dataclasses returned hold clean values
(see base.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import yfinance as yf
from yfinance.exceptions import (
    YFException,
    YFPricesMissingError,
    YFRateLimitError,
    YFTickerMissingError,
)

from .base import (
    BarsData,
    Batch,
    MalformedData,
    ProfileData,
    ProviderError,
    ProviderUnavailable,
    QuoteData,
    RateLimited,
    SearchHit,
    UnknownSymbol,
    clean_money,
)
from .yahoo_bars import _bars_from_frame, _means_unknown
from .yahoo_http import (
    YahooContractBroken,
    answers,
    ensure_cache_directory,
    forget_kept_answers,
    last_response,
    observe,
    process_session,
    retry_after_seconds,
    yahoo_get,
)
from .yahoo_quotes import (  # noqa: F401 (re-exported for callers)
    KINDS,
    MARKET_STATES,
    SOURCE,
    _count,
    _currency,
    _quote,
    _raw,
    _unit,
)

QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
QUOTE_SUMMARY_URL = "https://query2.finance.yahoo.com/v10/finance/quoteSummary"


def _yahoo_said_unknown(seen: list[tuple[int, str]], symbol: str) -> bool:
    """Whether Yahoo answered 404 to a chart or quoteSummary request for `symbol` in `seen`."""
    paths = {f"/v8/finance/chart/{symbol}", f"/v10/finance/quoteSummary/{symbol}"}
    return any(status == 404 and unquote(urlsplit(url).path) in paths for status, url in seen)


# Symbols per v7 quote request; Yahoo takes more, but long URLs start failing somewhere past
# a few hundred symbols, and 100 keeps a 500-instrument refresh at 5 requests.
QUOTE_CHUNK_SIZE = 100


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for index in range(0, len(items), size):
        yield list(items[index : index + size])


class YahooProvider:
    """Market data from Yahoo Finance, through yfinance's cookie, crumb and parsing.

    `session` (a requests or curl_cffi Session) is handed to yfinance on every call; without it,
    the process's `process_session()`.
    """

    name = "yahoo"

    def __init__(self, *, session: Any = None, timeout: float = 10, quote_chunk_size: int = 0):
        ensure_cache_directory()
        self._session = observe(session) if session is not None else process_session()
        self._timeout = timeout
        self._quote_chunk_size = quote_chunk_size or QUOTE_CHUNK_SIZE
        # Let yfinance raise instead of logging and returning empty frames: an empty frame
        # cannot tell a delisted symbol from a network failure.
        yf.config.debug.hide_exceptions = False

    # -- quotes -----------------------------------------------------------------------------------

    def fetch_quotes(self, symbols: Sequence[str]) -> Batch[QuoteData]:
        batch: Batch[QuoteData] = Batch()
        for symbol, raw in self._quote_results(symbols, batch):
            try:
                batch.items[symbol] = _quote(symbol, raw)
            except MalformedData as exc:
                batch.errors[symbol] = exc
        return batch

    # -- profiles ---------------------------------------------------------------------------------

    def fetch_profiles(self, symbols: Sequence[str]) -> Batch[ProfileData]:
        batch: Batch[ProfileData] = Batch()
        stop: ProviderError | None = None
        for symbol, raw in self._quote_results(symbols, batch):
            kind = KINDS.get(str(raw.get("quoteType", "")).upper())
            shares = _count(raw.get("sharesOutstanding")) or None
            enterprise_value = None
            if kind == "equity":
                if stop is not None:
                    batch.errors[symbol] = stop
                    continue
                try:
                    statistics = self._key_statistics(symbol)
                except RateLimited as exc:
                    stop = batch.errors[symbol] = exc
                    continue
                except ProviderError as exc:
                    batch.errors[symbol] = exc
                    continue
                enterprise_value = clean_money(
                    _raw(statistics.get("enterpriseValue")), positive=False
                )
                shares = shares or _count(statistics.get("sharesOutstanding")) or None
            batch.items[symbol] = ProfileData(
                symbol=symbol,
                name=raw.get("longName") or raw.get("shortName") or raw.get("displayName"),
                exchange=raw.get("fullExchangeName") or raw.get("exchange"),
                currency=_unit(raw.get("currency"))[0],
                kind=kind,
                shares_outstanding=shares,
                enterprise_value=enterprise_value,
                source=SOURCE,
            )
        self._raise_if_nothing_worked(batch)
        return batch

    def _key_statistics(self, symbol: str) -> dict:
        """quoteSummary defaultKeyStatistics; {} when Yahoo has no fundamentals for it (404)."""
        params = {
            "modules": "defaultKeyStatistics",
            "corsDomain": "finance.yahoo.com",
            "formatted": "false",
            "symbol": symbol,
            "lang": yf.config.locale.lang,
            "region": yf.config.locale.region,
        }
        try:
            body = self._get_json(f"{QUOTE_SUMMARY_URL}/{symbol}", params, symbol=symbol)
        except UnknownSymbol:
            return {}
        try:
            result = body["quoteSummary"]["result"] or []
            return (result[0] or {}).get("defaultKeyStatistics") or {} if result else {}
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedData(f"{symbol}: unexpected quoteSummary shape") from exc

    # -- daily bars -------------------------------------------------------------------------------

    def fetch_daily_bars(
        self, symbols: Sequence[str], start: date, end: date | None = None
    ) -> Batch[BarsData]:
        batch: Batch[BarsData] = Batch()
        stop: RateLimited | None = None
        for symbol in dict.fromkeys(symbols):
            if stop is not None:
                batch.errors[symbol] = stop
                continue
            try:
                batch.items[symbol] = self._bars(symbol, start, end)
            except RateLimited as exc:
                stop = batch.errors[symbol] = exc
            except ProviderError as exc:
                batch.errors[symbol] = exc
        self._raise_if_nothing_worked(batch)
        return batch

    def _bars(self, symbol: str, start: date, end: date | None) -> BarsData:
        """The symbol's bars. "Unknown" counts towards delisting (market.services.delisting),
        so it must be Yahoo's answer to this call: yfinance may conclude "possibly delisted; no
        timezone found" from a 404 it kept from an earlier call, without asking. Then what it
        kept is dropped and Yahoo is asked again; an "unknown" with no 404 from Yahoo behind it
        is a provider failure, not an unknown symbol."""
        if end is not None and end < start:
            return BarsData(symbol=symbol)
        bars = self._answered_history(symbol, start, end)
        if bars is None:
            forget_kept_answers()
            bars = self._answered_history(symbol, start, end)
        if bars is None:
            raise ProviderUnavailable(f"{symbol}: yfinance said unknown without a 404 from Yahoo")
        return bars

    def _answered_history(self, symbol: str, start: date, end: date | None) -> BarsData | None:
        """The bars; UnknownSymbol when Yahoo answered 404 to this call; None when yfinance
        said "unknown" without such an answer."""
        with answers() as seen:
            try:
                return self._history(symbol, start, end)
            except UnknownSymbol:
                if _yahoo_said_unknown(seen, symbol):
                    raise
                return None

    def _history(self, symbol: str, start: date, end: date | None) -> BarsData:
        try:
            ticker = yf.Ticker(symbol, session=self._session)
            frame = ticker.history(
                start=start,
                end=end + timedelta(days=1) if end else None,  # yfinance's end is exclusive
                interval="1d",
                actions=True,
                auto_adjust=False,
                repair=False,
                timeout=self._timeout,
            )
            metadata = ticker.get_history_metadata()
            # yfinance's HistoryMetadata is no dict: it has no .get().
            currency = metadata["currency"] if "currency" in metadata else None  # noqa: SIM401
        except Exception as exc:
            if isinstance(exc, YFPricesMissingError) and not _means_unknown(exc):
                return BarsData(symbol=symbol)  # a range without trading days
            raise self._translate(exc, symbol) from exc
        return _bars_from_frame(symbol, frame, start, end, *_unit(currency))

    # -- search -----------------------------------------------------------------------------------

    def search(self, text: str) -> list[SearchHit]:
        query = text.strip()
        if not query:
            return []
        last_response.status = None
        try:
            found = yf.Search(
                query,
                max_results=10,
                news_count=0,
                lists_count=0,
                include_cb=False,
                recommended=0,
                session=self._session,
                timeout=self._timeout,
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        status = last_response.status
        if status is not None and status >= 400:
            raise ProviderUnavailable(f"Yahoo search answered HTTP {status}")
        hits = []
        for quote in found.quotes:
            kind = KINDS.get(str(quote.get("quoteType", "")).upper())
            if kind is None:  # options, futures, currencies, mutual funds: not ours
                continue
            hits.append(
                SearchHit(
                    symbol=quote["symbol"],
                    name=quote.get("longname") or quote.get("shortname") or quote["symbol"],
                    exchange=quote.get("exchDisp") or quote.get("exchange"),
                    kind=kind,
                )
            )
        return hits

    # -- transport --------------------------------------------------------------------------------

    def _quote_results(self, symbols: Sequence[str], batch: Batch) -> Iterator[tuple[str, dict]]:
        """(symbol, v7 quote result) for each symbol Yahoo knows; unknown ones go to errors.

        Raises when the first request fails; a later failing chunk is recorded per symbol."""
        unique = list(dict.fromkeys(symbols))
        for number, chunk in enumerate(_chunks(unique, self._quote_chunk_size)):
            params = {
                "symbols": ",".join(chunk),
                "formatted": "false",
                "lang": yf.config.locale.lang,
                "region": yf.config.locale.region,
            }
            try:
                body = self._get_json(QUOTE_URL, params)
                results = body["quoteResponse"]["result"] or []
                if not isinstance(results, list):
                    raise TypeError("result is not a list")
            except (KeyError, TypeError) as exc:
                error: ProviderError = MalformedData(f"unexpected v7 quote shape: {exc}")
            except ProviderError as exc:
                error = exc
            else:
                by_symbol = {
                    str(raw["symbol"]).upper(): raw
                    for raw in results
                    if isinstance(raw, dict) and raw.get("symbol")
                }
                for symbol in chunk:
                    raw = by_symbol.get(symbol.upper())
                    if raw is None:
                        batch.errors[symbol] = UnknownSymbol(symbol)
                    else:
                        yield symbol, raw
                continue
            if number == 0:
                raise error
            for symbol in unique[number * self._quote_chunk_size :]:
                batch.errors[symbol] = error
            return

    def _get_json(self, url: str, params: dict, *, symbol: str | None = None) -> Any:
        last_response.retry_after = None
        try:
            status, headers, content = yahoo_get(self._session, url, params, self._timeout)
        except YahooContractBroken:
            raise
        except Exception as exc:
            raise self._translate(exc, symbol) from exc
        if status == 429:
            raise RateLimited(
                "Yahoo answered HTTP 429",
                retry_after=retry_after_seconds(headers.get("Retry-After")),
            )
        if status == 404 and symbol is not None:
            raise UnknownSymbol(symbol, f"Yahoo does not know {symbol!r} (HTTP 404)")
        if status >= 400:
            raise ProviderUnavailable(f"Yahoo answered HTTP {status} for {url}")
        try:
            return json.loads(content)
        except ValueError as exc:
            raise MalformedData(f"Yahoo's answer from {url} is not JSON") from exc

    def _translate(self, exc: BaseException, symbol: str | None = None) -> ProviderError:
        """Map what yfinance and the HTTP libraries raise to our typed errors."""
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, YFRateLimitError):
            return RateLimited(str(exc), retry_after=last_response.retry_after)
        if isinstance(exc, YFTickerMissingError) and symbol is not None:
            return UnknownSymbol(symbol, str(exc))
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int) and status >= 400:
            if status == 429:
                headers = getattr(exc.response, "headers", None) or {}
                return RateLimited(
                    "Yahoo answered HTTP 429",
                    retry_after=retry_after_seconds(headers.get("Retry-After")),
                )
            # Not str(exc): it carries the request URL, crumb included.
            if status == 404 and symbol is not None:
                return UnknownSymbol(symbol, f"Yahoo does not know {symbol!r} (HTTP 404)")
            return ProviderUnavailable(f"Yahoo answered HTTP {status}")
        if isinstance(exc, ValueError):  # json.JSONDecodeError and friends
            return MalformedData(f"Yahoo's answer is not usable: {exc}")
        if isinstance(exc, OSError):  # timeouts and connection errors of both HTTP backends
            return ProviderUnavailable(f"Yahoo did not answer: {type(exc).__name__}: {exc}")
        if isinstance(exc, YFException):
            return ProviderUnavailable(f"yfinance: {exc}")
        if isinstance(exc, (KeyError, IndexError, TypeError, AttributeError)):
            return MalformedData(f"unexpected Yahoo data: {type(exc).__name__}: {exc}")
        raise exc

    @staticmethod
    def _raise_if_nothing_worked(batch: Batch) -> None:
        """A call where every symbol failed for want of Yahoo is a failed call, not a batch."""
        if batch.items or not batch.errors:
            return
        errors = list(batch.errors.values())
        if all(isinstance(error, ProviderUnavailable) for error in errors):
            raise errors[0]
