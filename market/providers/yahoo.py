"""Yahoo Finance through yfinance: batched quotes, profiles, daily bars with splits, search.

yfinance keeps one process-wide `YfData` object that owns the HTTP session, the cookie and the
crumb; every request here goes through it, so the cookie/crumb handshake happens once per
process and quotes for many symbols cost one request per `QUOTE_CHUNK_SIZE` symbols (the v7
quote endpoint takes a comma-separated list).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from fractions import Fraction
from typing import Any

import yfinance as yf
from yfinance.data import YfData
from yfinance.exceptions import (
    YFException,
    YFPricesMissingError,
    YFRateLimitError,
    YFTickerMissingError,
)

from .base import (
    CLOSED,
    POST,
    PRE,
    REGULAR,
    BarData,
    BarsData,
    Batch,
    MalformedData,
    ProfileData,
    ProviderError,
    ProviderUnavailable,
    QuoteData,
    RateLimited,
    SearchHit,
    SplitData,
    UnknownSymbol,
)

QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
QUOTE_SUMMARY_URL = "https://query2.finance.yahoo.com/v10/finance/quoteSummary"
# Symbols per v7 quote request; Yahoo takes more, but long URLs start failing somewhere past
# a few hundred symbols, and 100 keeps a 500-instrument refresh at 5 requests.
QUOTE_CHUNK_SIZE = 100
SOURCE = "yahoo"

# Yahoo's marketState. PREPRE (20:00-04:00 after POSTPOST) and POSTPOST (after 20:00) are hours
# without extended trading, which is "closed" in our sessions.
MARKET_STATES = {
    "PRE": PRE,
    "REGULAR": REGULAR,
    "POST": POST,
    "PREPRE": CLOSED,
    "POSTPOST": CLOSED,
    "CLOSED": CLOSED,
}
KINDS = {"EQUITY": "equity", "ETF": "etf", "CRYPTOCURRENCY": "crypto", "INDEX": "index"}


class _ResponseObserver(threading.local):
    """What the last HTTP response on this thread said, for what yfinance does not pass on
    (it turns a 429 into YFRateLimitError and drops the Retry-After header)."""

    status: int | None = None
    retry_after: float | None = None


# One per process: sessions are wrapped once, whichever provider instance comes first (a
# provider is built per task, and yfinance's session lives as long as the process).
_OBSERVER = _ResponseObserver()


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


def _number(value: Any) -> int | float | Decimal | None:
    """A finite number from a Yahoo field (plain, or {"raw": ...} when formatted), else None."""
    if isinstance(value, dict):
        value = value.get("raw")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return None
        return value if value.is_finite() else None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _decimal(value: Any) -> Decimal | None:
    number = _number(value)
    # str() of a float is its shortest repr: 244.6 -> Decimal("244.6"), never 244.59999...
    return None if number is None else Decimal(str(number))


def _positive_decimal(value: Any) -> Decimal | None:
    number = _decimal(value)
    return number if number is not None and number > 0 else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 else int(number)


def _timestamp(value: Any) -> datetime | None:
    number = _number(value)
    if number is None:
        return None
    try:
        return datetime.fromtimestamp(int(number), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for index in range(0, len(items), size):
        yield list(items[index : index + size])


class YahooProvider:
    """Market data from Yahoo Finance, through yfinance's session, cookie and crumb handling.

    `session` (a requests or curl_cffi Session) replaces yfinance's own session; without it
    yfinance's default (curl_cffi impersonating a browser) talks to Yahoo.
    """

    name = "yahoo"

    def __init__(self, *, session: Any = None, timeout: float = 10, quote_chunk_size: int = 0):
        self._session = session
        self._timeout = timeout
        self._quote_chunk_size = quote_chunk_size or QUOTE_CHUNK_SIZE
        self._observer = _OBSERVER
        # Let yfinance raise instead of logging and returning empty frames: an empty frame
        # cannot tell a delisted symbol from a network failure.
        yf.config.debug.hide_exceptions = False

    # -- quotes -----------------------------------------------------------------------------------

    def fetch_quotes(self, symbols: Sequence[str]) -> Batch[QuoteData]:
        batch: Batch[QuoteData] = Batch()
        for symbol, raw in self._quote_results(symbols, batch):
            try:
                batch.items[symbol] = self._quote(symbol, raw)
            except MalformedData as exc:
                batch.errors[symbol] = exc
        return batch

    def _quote(self, symbol: str, raw: dict) -> QuoteData:
        price = _positive_decimal(raw.get("regularMarketPrice"))
        if price is None:
            raise MalformedData(
                f"{symbol}: no usable regularMarketPrice ({raw.get('regularMarketPrice')!r})"
            )
        regular_time = _timestamp(raw.get("regularMarketTime"))
        return QuoteData(
            symbol=symbol,
            price=price,
            previous_close=_positive_decimal(raw.get("regularMarketPreviousClose")),
            currency=raw.get("currency") or None,
            market_state=MARKET_STATES.get(str(raw.get("marketState", "")).upper(), CLOSED),
            pre_market_price=self._extended_price(raw, "preMarket", regular_time),
            post_market_price=self._extended_price(raw, "postMarket", regular_time),
            day_high=_positive_decimal(raw.get("regularMarketDayHigh")),
            day_low=_positive_decimal(raw.get("regularMarketDayLow")),
            volume=_integer(raw.get("regularMarketVolume")),
            shares_outstanding=_integer(raw.get("sharesOutstanding")) or None,
            market_cap=_positive_decimal(raw.get("marketCap")),
            provider_time=regular_time,
            source=SOURCE,
        )

    @staticmethod
    def _extended_price(raw: dict, prefix: str, regular_time: datetime | None) -> Decimal | None:
        """The pre- or post-market price, unless it is older than the regular price (Yahoo keeps
        this morning's pre-market price all day, and last night's post-market price until the
        next close)."""
        price = _positive_decimal(raw.get(f"{prefix}Price"))
        when = _timestamp(raw.get(f"{prefix}Time"))
        if price is None or (when and regular_time and when <= regular_time):
            return None
        return price

    # -- profiles ---------------------------------------------------------------------------------

    def fetch_profiles(self, symbols: Sequence[str]) -> Batch[ProfileData]:
        batch: Batch[ProfileData] = Batch()
        stop: ProviderError | None = None
        for symbol, raw in self._quote_results(symbols, batch):
            kind = KINDS.get(str(raw.get("quoteType", "")).upper())
            shares = _integer(raw.get("sharesOutstanding")) or None
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
                enterprise_value = _decimal(statistics.get("enterpriseValue"))
                shares = shares or _integer(statistics.get("sharesOutstanding")) or None
            batch.items[symbol] = ProfileData(
                symbol=symbol,
                name=raw.get("longName") or raw.get("shortName") or raw.get("displayName"),
                exchange=raw.get("fullExchangeName") or raw.get("exchange"),
                currency=raw.get("currency") or None,
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
        if end is not None and end < start:
            return BarsData(symbol=symbol)
        try:
            ticker = yf.Ticker(symbol, session=self._yf_session())
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
            price_hint = metadata["priceHint"] if "priceHint" in metadata else 2  # noqa: SIM401
        except Exception as exc:
            if isinstance(exc, YFPricesMissingError) and not self._means_unknown(exc):
                return BarsData(symbol=symbol)  # a range without trading days
            raise self._translate(exc, symbol) from exc
        return self._bars_from_frame(symbol, frame, start, end, price_hint)

    @staticmethod
    def _means_unknown(exc: YFPricesMissingError) -> bool:
        reason = (exc.yahoo_reason or "").lower()
        return "delisted" in reason or "not found" in reason or "no data found" in reason

    @staticmethod
    def _bars_from_frame(
        symbol: str, frame: Any, start: date, end: date | None, price_hint: Any
    ) -> BarsData:
        places = min(8, max(2, int(price_hint))) if isinstance(price_hint, int) else 2
        price_step = Decimal(1).scaleb(-places)
        adjusted_step = Decimal(1).scaleb(-min(8, places + 4))

        def price(value: Any, step: Decimal = price_step) -> Decimal | None:
            number = _decimal(value)
            if number is None:
                return None
            return number.quantize(step, rounding=ROUND_HALF_EVEN)

        bars: list[BarData] = []
        splits: list[SplitData] = []
        columns = {name: frame[name].tolist() for name in frame.columns}
        for row, stamp in enumerate(frame.index):
            day = stamp.date()
            if day < start or (end is not None and day > end):
                continue
            split = _number(columns["Stock Splits"][row]) if "Stock Splits" in columns else None
            if split:
                ratio = Fraction(split).limit_denominator(10_000)
                splits.append(
                    SplitData(date=day, ratio=Decimal(ratio.numerator) / Decimal(ratio.denominator))
                )
            close = price(columns["Close"][row])
            if close is None or close <= 0:
                continue  # Yahoo leaves holes (null close) in some series
            adjusted = (
                price(columns["Adj Close"][row], adjusted_step) if "Adj Close" in columns else None
            )
            volume = _integer(columns["Volume"][row]) if "Volume" in columns else None
            bars.append(
                BarData(
                    date=day,
                    open=price(columns["Open"][row]),
                    high=price(columns["High"][row]),
                    low=price(columns["Low"][row]),
                    close=close,
                    adj_close=adjusted if adjusted is not None and adjusted > 0 else close,
                    volume=volume,
                )
            )
        return BarsData(symbol=symbol, bars=bars, splits=splits)

    # -- search -----------------------------------------------------------------------------------

    def search(self, text: str) -> list[SearchHit]:
        query = text.strip()
        if not query:
            return []
        self._observer.status = None
        try:
            found = yf.Search(
                query,
                max_results=10,
                news_count=0,
                lists_count=0,
                include_cb=False,
                recommended=0,
                session=self._yf_session(),
                timeout=self._timeout,
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        status = self._observer.status
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

    def _yf_data(self) -> YfData:
        data = YfData(session=self._session) if self._session is not None else YfData()
        self._observe(data._session)
        return data

    def _yf_session(self) -> Any:
        return self._yf_data()._session

    def _observe(self, session: Any) -> None:
        """Wrap the session's request method once, to see statuses and Retry-After headers."""
        if getattr(session, "_minerwatch_observed", None) is _OBSERVER:
            return
        observer = _OBSERVER
        send = session.request

        def request(*args: Any, **kwargs: Any) -> Any:
            response = send(*args, **kwargs)
            observer.status = response.status_code
            if response.status_code == 429:
                observer.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return response

        session.request = request
        session._minerwatch_observed = observer

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
        data = self._yf_data()
        self._observer.retry_after = None
        try:
            response = data.get(url, params=params, timeout=self._timeout)
        except Exception as exc:
            raise self._translate(exc, symbol) from exc
        status = response.status_code
        if status == 429:
            raise RateLimited(
                "Yahoo answered HTTP 429",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status == 404 and symbol is not None:
            raise UnknownSymbol(symbol, f"Yahoo does not know {symbol!r} (HTTP 404)")
        if status >= 400:
            raise ProviderUnavailable(f"Yahoo answered HTTP {status} for {url}")
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise MalformedData(f"Yahoo's answer from {url} is not JSON") from exc

    def _translate(self, exc: BaseException, symbol: str | None = None) -> ProviderError:
        """Map what yfinance and the HTTP libraries raise to our typed errors."""
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, YFRateLimitError):
            return RateLimited(str(exc), retry_after=self._observer.retry_after)
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
