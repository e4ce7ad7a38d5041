"""A small scripted market-data provider for tests: it answers what it is told, fails how it is
told, and remembers every call."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from market.providers import (
    BarData,
    BarsData,
    Batch,
    DividendData,
    ProfileData,
    ProviderError,
    QuoteData,
    SearchHit,
    SplitData,
    UnknownSymbol,
)


def quote(symbol: str, price="10.00", previous_close="9.50", **fields) -> QuoteData:
    return QuoteData(
        symbol=symbol,
        price=price if price is None or not isinstance(price, str) else Decimal(price),
        previous_close=Decimal(previous_close)
        if isinstance(previous_close, str)
        else previous_close,
        currency="USD",
        source="fake",
        **fields,
    )


class FakeProvider:
    """Quotes from `quotes` (symbol -> QuoteData), per-symbol `errors`, or `raises` for the whole
    call. Bars: one bar a weekday at `base_close`, restated for the `splits` it knows (as Yahoo
    does: closes before a split are divided by its ratio), with the `dividends` of the range (as
    they are stated now: symbol -> (ex-date, amount, currency)). Unknown symbols are
    UnknownSymbol."""

    name = "fake"

    def __init__(
        self,
        *,
        quotes: dict[str, QuoteData] | None = None,
        errors: dict[str, ProviderError] | None = None,
        raises: BaseException | None = None,
        profiles: dict[str, ProfileData] | None = None,
        bar_symbols: Sequence[str] = (),
        splits: dict[str, list[tuple[date, Decimal]]] | None = None,
        dividends: dict[str, list[tuple[date, Decimal, str]]] | None = None,
        base_close: Decimal = Decimal("100"),
        hits: Sequence[SearchHit] = (),
        today: date = date(2026, 11, 24),
    ):
        self.quotes = dict(quotes or {})
        self.errors = dict(errors or {})
        self.raises = raises
        self.profiles = dict(profiles or {})
        self.bar_symbols = set(bar_symbols)
        self.splits = {s: list(events) for s, events in (splits or {}).items()}
        self.dividends = {s: list(events) for s, events in (dividends or {}).items()}
        self.base_close = base_close
        self.hits = list(hits)
        self.today = today
        self.calls: list[tuple] = []

    def _fail_if_told(self) -> None:
        if self.raises is not None:
            raise self.raises

    def fetch_quotes(self, symbols: Sequence[str]) -> Batch[QuoteData]:
        self.calls.append(("quotes", list(symbols)))
        self._fail_if_told()
        batch: Batch[QuoteData] = Batch()
        for symbol in symbols:
            if symbol in self.errors:
                batch.errors[symbol] = self.errors[symbol]
            elif symbol in self.quotes:
                batch.items[symbol] = self.quotes[symbol]
            else:
                batch.errors[symbol] = UnknownSymbol(symbol)
        return batch

    def fetch_profiles(self, symbols: Sequence[str]) -> Batch[ProfileData]:
        self.calls.append(("profiles", list(symbols)))
        self._fail_if_told()
        batch: Batch[ProfileData] = Batch()
        for symbol in symbols:
            if symbol in self.errors:
                batch.errors[symbol] = self.errors[symbol]
            elif symbol in self.profiles:
                batch.items[symbol] = self.profiles[symbol]
            else:
                batch.errors[symbol] = UnknownSymbol(symbol)
        return batch

    def fetch_daily_bars(
        self, symbols: Sequence[str], start: date, end: date | None = None
    ) -> Batch[BarsData]:
        self.calls.append(("bars", list(symbols), start))
        self._fail_if_told()
        batch: Batch[BarsData] = Batch()
        last = min(end or self.today, self.today)
        for symbol in symbols:
            if symbol not in self.bar_symbols:
                batch.errors[symbol] = UnknownSymbol(symbol)
                continue
            events = [(d, r) for d, r in self.splits.get(symbol, []) if d <= last]
            bars = []
            day = start
            while day <= last:
                if day.weekday() < 5:
                    close = self.base_close
                    for split_day, ratio in events:
                        if day < split_day:
                            close = close / ratio
                    bars.append(BarData(day, close, close, close, close, close, 1000))
                day += timedelta(days=1)
            batch.items[symbol] = BarsData(
                symbol=symbol,
                bars=bars,
                splits=[SplitData(d, r) for d, r in events if start <= d],
                dividends=[
                    DividendData(d, amount, currency)
                    for d, amount, currency in self.dividends.get(symbol, [])
                    if start <= d <= last
                ],
            )
        return batch

    def search(self, text: str) -> list[SearchHit]:
        self.calls.append(("search", text))
        self._fail_if_told()
        return list(self.hits)
