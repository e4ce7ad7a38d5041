"""A deterministic market-data provider for demos, load tests and offline use: quotes, profiles,
daily bars and search over the random walk of simulated_walk.py, at the minutes simulated_clock.py
gives for the market's sessions.

Quotes follow Yahoo's conventions: `price` is the regular-session price (frozen at the last close
outside regular hours), `previous_close` is the close of the session before the one `price`
belongs to, and the extended-hours walk shows in `pre_market_price` / `post_market_price`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np

from market.rules import NEW_YORK

from . import simulated_market
from .base import (
    CLOSED,
    POST,
    PRE,
    BarData,
    BarsData,
    Batch,
    ProfileData,
    QuoteData,
    SearchHit,
    SplitData,
    UnknownSymbol,
)
from .simulated_clock import (  # noqa: F401 (re-exported for callers)
    POST_CLOSE,
    PRE_OPEN,
    RANGE_SAMPLE_MINUTES,
    REGULAR_CLOSE,
    REGULAR_OPEN,
    _crypto_schedule,
    _epoch_minute,
    _equity_schedule,
    _Schedule,
    _session_bounds,
    _trading_days,
)
from .simulated_walk import (  # noqa: F401 (re-exported for callers)
    _MASK64,
    LEVELS,
    MINUTES_PER_DAY,
    PERIOD,
    _splitmix,
    _symbol_params,
    _unit,
    is_crypto,
    is_fx,
    trades_round_the_clock,
    walk,
)

SOURCE = "simulated"

SYMBOL_RE = re.compile(r"^([A-Z0-9.\-]{1,10}|[A-Z]{6}=X)$")


def _kind(symbol: str) -> str:
    return "fx" if is_fx(symbol) else "crypto" if is_crypto(symbol) else "equity"


def _price_decimal(value: float) -> Decimal:
    # Yahoo quotes 2 decimals at and above $1, 4 below; do the same.
    return Decimal(f"{value:.2f}") if value >= 1 else Decimal(f"{value:.4f}")


class SimulatedProvider:
    """Deterministic random-walk quotes, profiles, bars and search; see the module docstring."""

    name = "simulated"

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        names: Mapping[str, str] | None = None,
        splits: Mapping[str, Sequence[tuple[date, Decimal]]] | None = None,
        always_open: bool = False,
        universe_only: bool = False,
    ):
        self.universe_only = universe_only
        # always_open: a demo market where equities trade round the clock like crypto, so that
        # prices move every minute whatever the hour (MARKET_DATA_PROVIDER=simulated make run).
        self.always_open = always_open
        self._now = now or (lambda: datetime.now(UTC))
        self._names = dict(names or {})
        self._splits = {
            symbol: [SplitData(date=day, ratio=Decimal(ratio)) for day, ratio in events]
            for symbol, events in (splits or {}).items()
        }

    # -- public interface ---------------------------------------------------------------------

    def fetch_quotes(self, symbols: Sequence[str]) -> Batch[QuoteData]:
        batch: Batch[QuoteData] = Batch()
        known = self._split_known(symbols, batch)
        now = self._current_time()
        for group, schedule in (
            (
                [s for s in known if not trades_round_the_clock(s)],
                _crypto_schedule(now) if self.always_open else _equity_schedule(now),
            ),
            ([s for s in known if trades_round_the_clock(s)], _crypto_schedule(now)),
        ):
            if group:
                batch.items.update(self._quotes(group, schedule))
        return batch

    def fetch_profiles(self, symbols: Sequence[str]) -> Batch[ProfileData]:
        batch: Batch[ProfileData] = Batch()
        known = self._split_known(symbols, batch)
        quotes = self.fetch_quotes(known).items
        for symbol in known:
            _, _, _, shares, _, ev_factor = _symbol_params(symbol)
            crypto = trades_round_the_clock(symbol)
            market_cap = quotes[symbol].market_cap
            batch.items[symbol] = ProfileData(
                symbol=symbol,
                name=self._names.get(symbol, f"{symbol} (simulated)"),
                exchange="CCC" if crypto else "SIM",
                currency="USD",
                kind=_kind(symbol),
                shares_outstanding=None if crypto else shares,
                enterprise_value=None
                if crypto or market_cap is None
                else (market_cap * Decimal(f"{ev_factor:.4f}")).quantize(Decimal(1)),
                source=SOURCE,
            )
        return batch

    def fetch_daily_bars(
        self, symbols: Sequence[str], start: date, end: date | None = None
    ) -> Batch[BarsData]:
        batch: Batch[BarsData] = Batch()
        known = self._split_known(symbols, batch)
        now = self._current_time()
        now_minute = _epoch_minute(now)
        for symbol in known:
            crypto = trades_round_the_clock(symbol)
            today = now.astimezone(UTC).date() if crypto else now.astimezone(NEW_YORK).date()
            last = min(end or today, today)
            days = _trading_days(start, last, crypto=crypto)
            bounds = [_session_bounds(day, crypto=crypto) for day in days]
            bounds = [(opening, min(closing, now_minute)) for opening, closing in bounds]
            keep = [i for i, (opening, _) in enumerate(bounds) if opening <= now_minute]
            days = [days[i] for i in keep]
            bounds = [bounds[i] for i in keep]
            batch.items[symbol] = BarsData(
                symbol=symbol,
                bars=self._bars(symbol, days, bounds),
                splits=[
                    split for split in self._splits.get(symbol, []) if start <= split.date <= last
                ],
            )
        return batch

    def search(self, text: str) -> list[SearchHit]:
        query = text.strip().upper()
        hits: list[SearchHit] = []
        if SYMBOL_RE.match(query) and self.is_known(query):
            hits.append(self._hit(query))
        needle = text.strip().casefold()
        if needle:
            hits.extend(
                self._hit(symbol)
                for symbol, name in sorted(self._names.items())
                if symbol != query and needle in name.casefold()
            )
        return hits

    # -- internals --------------------------------------------------------------------------------

    def _current_time(self) -> datetime:
        now = self._now()
        if now.tzinfo is None:
            raise ValueError("the simulated provider's clock must return an aware datetime")
        return now.replace(second=0, microsecond=0)

    def is_known(self, symbol: str) -> bool:
        if self.universe_only:  # the universe and a documented list only (simulated_market)
            return simulated_market.is_priced(symbol)
        return bool(SYMBOL_RE.match(symbol)) and not symbol.startswith("ZZ")

    def _split_known(self, symbols: Sequence[str], batch: Batch) -> list[str]:
        known = []
        for symbol in dict.fromkeys(symbols):
            if self.is_known(symbol):
                known.append(symbol)
            else:
                batch.errors[symbol] = UnknownSymbol(symbol)
        return known

    def _hit(self, symbol: str) -> SearchHit:
        crypto = trades_round_the_clock(symbol)
        return SearchHit(
            symbol=symbol,
            name=self._names.get(symbol, f"{symbol} (simulated)"),
            exchange="CCC" if crypto else "SIM",
            kind=_kind(symbol),
        )

    def _quotes(self, symbols: list[str], schedule: _Schedule) -> dict[str, QuoteData]:
        params = [_symbol_params(symbol) for symbol in symbols]
        seeds = np.array([p[0] for p in params], dtype=np.uint64)[:, None]
        bases = np.array([p[1] for p in params])[:, None]
        vols = np.array([p[2] for p in params])[:, None]
        values = bases * np.exp(
            simulated_market.mixed_walk(walk, symbols, seeds, schedule.minutes[None, :], vols)
        )
        ranged = values[:, [0, *range(3, values.shape[1])]]
        provider_time = datetime.fromtimestamp(schedule.price_minute * 60, tz=UTC)
        day_factor = 0.6 + 0.8 * _unit(
            _splitmix(seeds[:, 0] ^ np.uint64(schedule.session_start & _MASK64))
        )
        volumes = (
            np.array([p[4] for p in params]) * day_factor * schedule.elapsed_fraction
        ).astype(np.int64)
        state = schedule.state
        quotes = {}
        rows = zip(
            symbols,
            params,
            values[:, 0].tolist(),
            values[:, 1].tolist(),
            values[:, 2].tolist(),
            ranged.max(axis=1).tolist(),
            ranged.min(axis=1).tolist(),
            volumes.tolist(),
            strict=True,
        )
        for symbol, param, price, previous_close, extended, high, low, volume in rows:
            shares = param[3]
            price_decimal = _price_decimal(price)
            extended_decimal = _price_decimal(extended)
            quotes[symbol] = QuoteData(
                symbol=symbol,
                price=price_decimal,
                previous_close=_price_decimal(previous_close),
                currency="USD",
                market_state=state,
                pre_market_price=extended_decimal if state == PRE else None,
                post_market_price=extended_decimal if state in (POST, CLOSED) else None,
                day_high=_price_decimal(high),
                day_low=_price_decimal(low),
                volume=volume,
                shares_outstanding=None if trades_round_the_clock(symbol) else shares,
                market_cap=None if is_fx(symbol) else (price_decimal * shares).quantize(Decimal(1)),
                provider_time=provider_time,
                source=SOURCE,
            )
        return quotes

    def _bars(self, symbol: str, days: list[date], bounds: list[tuple[int, int]]) -> list[BarData]:
        if not days:
            return []
        seed, base, vol, _, average_volume, _ = _symbol_params(symbol)
        samples_per_day = MINUTES_PER_DAY // RANGE_SAMPLE_MINUTES + 1
        # Per day: open, close, then range samples (padded with the close minute).
        minutes = np.empty((len(days), 2 + samples_per_day), dtype=np.int64)
        for row, (opening, closing) in enumerate(bounds):
            samples = list(range(opening, closing, RANGE_SAMPLE_MINUTES))[:samples_per_day]
            samples += [closing] * (samples_per_day - len(samples))
            minutes[row] = [opening, closing, *samples]
        values = base * np.exp(
            simulated_market.mixed_walk(walk, [symbol], np.uint64(seed), minutes, vol)
        )
        day_factor = 0.6 + 0.8 * _unit(_splitmix(np.uint64(seed) ^ minutes[:, 0].astype(np.uint64)))
        bars = []
        for row, day in enumerate(days):
            opening, closing = bounds[row]
            full = _session_bounds(day, crypto=trades_round_the_clock(symbol))
            elapsed = min(1.0, (closing - opening) / max(1, full[1] - full[0]))
            close = _price_decimal(float(values[row, 1]))
            bars.append(
                BarData(
                    date=day,
                    open=_price_decimal(float(values[row, 0])),
                    high=_price_decimal(float(values[row].max())),
                    low=_price_decimal(float(values[row].min())),
                    close=close,
                    adj_close=close,
                    volume=int(average_volume * day_factor[row] * elapsed),
                )
            )
        return bars
