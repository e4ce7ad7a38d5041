"""A deterministic market-data provider for demos, load tests and offline use.

Every symbol follows its own random walk in log price, one step per minute, seeded from the
symbol. The walk is built as a Brownian bridge (midpoint displacement), so the value at any minute
costs one pass over ~20 levels, needs no state, and is the same on every machine: the same
symbol at the same minute always has the same price. The bridge is pinned back to the symbol's
base price once every ~2 years (at a different instant for each symbol), which keeps prices in a
sensible range however far the clock runs.

Quotes follow Yahoo's conventions: `price` is the regular-session price (frozen at the last close
outside regular hours), `previous_close` is the close of the session before the one `price`
belongs to, and the extended-hours walk shows in `pre_market_price` / `post_market_price`.
Sessions use New York time (pre 04:00-09:30, regular 09:30-16:00, post 16:00-20:00, on the
exchange's trading days, holidays excluded); crypto symbols (ending in "-USD") trade all the
time, their day running from 00:00 UTC like Yahoo's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

import numpy as np

from market.rules import NEW_YORK

from . import simulated_market
from .base import (
    CLOSED,
    POST,
    PRE,
    REGULAR,
    BarData,
    BarsData,
    Batch,
    ProfileData,
    QuoteData,
    SearchHit,
    SplitData,
    UnknownSymbol,
)

SOURCE = "simulated"

PRE_OPEN = time(4, 0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
POST_CLOSE = time(20, 0)
# Minutes between intraday samples used for the day's high and low.
RANGE_SAMPLE_MINUTES = 60

SYMBOL_RE = re.compile(r"^([A-Z0-9.\-]{1,10}|[A-Z]{6}=X)$")

# The walk: 2**LEVELS minutes per bridge segment (~2 years).
LEVELS = 20
PERIOD = 1 << LEVELS
MINUTES_PER_DAY = 1440

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SEGMENT_SALT = np.uint64(0xD6E8FEB86659FD93)
_U53 = 1.0 / (1 << 53)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over a uint64 array (wrapping arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def _unit(x: np.ndarray) -> np.ndarray:
    """uint64 hashes -> floats uniform in [0, 1)."""
    return (x >> np.uint64(11)).astype(np.float64) * _U53


def _scalar_unit(seed: int, salt: int) -> float:
    """One stable uniform [0, 1) number for (seed, salt): `_splitmix` in plain integers, which
    beats a one-element array by far."""
    x = ((seed ^ (salt * 0x2545F4914F6CDD1D)) + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return (x >> 11) * _U53


@lru_cache(maxsize=65_536)
def _seed(symbol: str) -> int:
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "big")


def is_crypto(symbol: str) -> bool:
    return symbol.endswith("-USD")


def is_fx(symbol: str) -> bool:
    """An FX rate in Yahoo's form: CADUSD=X is the price of one CAD in USD."""
    return len(symbol) == 8 and symbol.endswith("=X")


def trades_round_the_clock(symbol: str) -> bool:
    return is_crypto(symbol) or is_fx(symbol)


def _kind(symbol: str) -> str:
    return "fx" if is_fx(symbol) else "crypto" if is_crypto(symbol) else "equity"


@lru_cache(maxsize=65_536)
def _symbol_params(symbol: str) -> tuple[int, float, float, int, int, float]:
    """(seed, base price, volatility per minute, shares/supply, average daily volume, EV factor)."""
    seed = _seed(symbol)
    if is_fx(symbol):
        start = simulated_market.FX_START_USD
        base = start.get(symbol[:3], 1.0) / start.get(symbol[3:6], 1.0)
    elif is_crypto(symbol):
        base = float(np.exp(np.log(0.5) + _scalar_unit(seed, 1) * np.log(200_000 / 0.5)))
    else:
        base = float(np.exp(np.log(2.0) + _scalar_unit(seed, 1) * np.log(150 / 2.0)))
    daily_vol = 0.02 + 0.03 * _scalar_unit(seed, 2)  # 2%..5% a day: miners move a lot
    if is_fx(symbol):
        daily_vol = 0.005
    minute_vol = daily_vol / np.sqrt(MINUTES_PER_DAY)
    # A sourced reference point: the walk passes through it (and its share count, if sourced).
    base, shares = simulated_market.reference_start(walk, symbol, seed, minute_vol, base)
    if not shares and is_crypto(symbol):
        shares = int(10 ** (6 + 4 * _scalar_unit(seed, 3)))
    elif not shares:
        shares = int(10 ** (7.5 + 2 * _scalar_unit(seed, 3))) // 1000 * 1000  # 30M..3B
    average_volume = int(shares * (0.005 + 0.03 * _scalar_unit(seed, 4)))
    ev_factor = 0.9 + 0.4 * _scalar_unit(seed, 5)
    return seed, base, float(minute_vol), int(shares), average_volume, ev_factor


def walk(seeds: np.ndarray, minutes: np.ndarray, minute_vol: np.ndarray) -> np.ndarray:
    """Log-price offset of each (seed, minute) pair; arrays broadcast together.

    `seeds` is uint64, `minutes` int64 minutes since the Unix epoch, `minute_vol` float.
    """
    seeds, minutes, minute_vol = np.broadcast_arrays(seeds, minutes, minute_vol)
    shifted = minutes + (seeds % np.uint64(PERIOD)).astype(np.int64)  # per-symbol pin instants
    segment = (shifted >> LEVELS).astype(np.uint64)
    position = shifted & (PERIOD - 1)
    key = seeds ^ (segment * _SEGMENT_SALT)
    low = np.zeros(position.shape, dtype=np.int64)
    left = np.zeros(position.shape, dtype=np.float64)
    right = np.zeros(position.shape, dtype=np.float64)
    node = np.ones(position.shape, dtype=np.uint64)
    for level in range(LEVELS):
        half = PERIOD >> (level + 1)
        # Midpoint of a bridge over 2*half steps: mean of the ends, std vol*sqrt(half/2).
        z = (_unit(_splitmix(key ^ (node * _GOLDEN))) - 0.5) * 3.4641016151377544  # unit var
        middle = 0.5 * (left + right) + minute_vol * np.sqrt(half / 2) * z
        go_right = position >= low + half
        left = np.where(go_right, middle, left)
        right = np.where(go_right, right, middle)
        low = np.where(go_right, low + half, low)
        node = (node << np.uint64(1)) | go_right.astype(np.uint64)
    return left


def _epoch_minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


@lru_cache(maxsize=8192)
def _ny_minute(day: date, at: time) -> int:
    return _epoch_minute(datetime.combine(day, at, tzinfo=NEW_YORK))


def _previous_business_day(day: date) -> date:
    day -= timedelta(days=1)
    while not simulated_market.is_trading_day(day):
        day -= timedelta(days=1)
    return day


def _last_business_day(day: date) -> date:
    while not simulated_market.is_trading_day(day):
        day -= timedelta(days=1)
    return day


def _price_decimal(value: float) -> Decimal:
    # Yahoo quotes 2 decimals at and above $1, 4 below; do the same.
    return Decimal(f"{value:.2f}") if value >= 1 else Decimal(f"{value:.4f}")


class _Schedule:
    """The minutes to evaluate for one group of symbols (equities or crypto) at one instant."""

    def __init__(
        self,
        now_minute: int,
        state: str,
        price_minute: int,
        previous_close_minute: int,
        session_start: int,
        extended_minute: int | None,
        session_minutes: int,
    ):
        self.state = state
        self.price_minute = price_minute
        self.previous_close_minute = previous_close_minute
        self.session_start = session_start
        self.extended_minute = extended_minute
        self.elapsed_fraction = min(1.0, max(0.0, (price_minute - session_start) / session_minutes))
        samples = list(range(session_start, price_minute, RANGE_SAMPLE_MINUTES))
        # Columns: price, previous close, extended-hours price, then range samples.
        self.minutes = np.array(
            [price_minute, previous_close_minute, extended_minute or price_minute, *samples],
            dtype=np.int64,
        )
        self.now_minute = now_minute


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
                self._crypto_schedule(now) if self.always_open else self._equity_schedule(now),
            ),
            ([s for s in known if trades_round_the_clock(s)], self._crypto_schedule(now)),
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
            days = self._trading_days(start, last, crypto=crypto)
            bounds = [self._session_bounds(day, crypto=crypto) for day in days]
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

    @staticmethod
    def _equity_schedule(now: datetime) -> _Schedule:
        local = now.astimezone(NEW_YORK)
        today, clock = local.date(), local.time()
        now_minute = _epoch_minute(now)
        weekday = simulated_market.is_trading_day(today)
        if weekday and PRE_OPEN <= clock < REGULAR_OPEN:
            state, session_day, extended = PRE, _previous_business_day(today), now_minute
        elif weekday and REGULAR_OPEN <= clock < REGULAR_CLOSE:
            state, session_day, extended = REGULAR, today, None
        elif weekday and REGULAR_CLOSE <= clock < POST_CLOSE:
            state, session_day, extended = POST, today, now_minute
        else:
            state = CLOSED
            session_day = (
                _last_business_day(today)
                if clock >= POST_CLOSE or not weekday
                else _previous_business_day(today)
            )
            extended = _ny_minute(session_day, POST_CLOSE) - 1
        opening = _ny_minute(session_day, REGULAR_OPEN)
        closing = _ny_minute(session_day, REGULAR_CLOSE)
        price_minute = now_minute if state == REGULAR else closing
        previous_close = _ny_minute(_previous_business_day(session_day), REGULAR_CLOSE)
        return _Schedule(
            now_minute, state, price_minute, previous_close, opening, extended, closing - opening
        )

    @staticmethod
    def _crypto_schedule(now: datetime) -> _Schedule:
        now_minute = _epoch_minute(now)
        day_start = now_minute - now_minute % MINUTES_PER_DAY
        # The previous close is the last minute of the previous UTC day, as in the daily bars.
        return _Schedule(
            now_minute, REGULAR, now_minute, day_start - 1, day_start, None, MINUTES_PER_DAY
        )

    @staticmethod
    def _trading_days(start: date, end: date, *, crypto: bool) -> list[date]:
        days = []
        day = start
        while day <= end:
            if crypto or simulated_market.is_trading_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    @staticmethod
    def _session_bounds(day: date, *, crypto: bool) -> tuple[int, int]:
        if crypto:
            opening = _epoch_minute(datetime.combine(day, time(0), tzinfo=UTC))
            return opening, opening + MINUTES_PER_DAY - 1
        return _ny_minute(day, REGULAR_OPEN), _ny_minute(day, REGULAR_CLOSE)

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
            full = self._session_bounds(day, crypto=trades_round_the_clock(symbol))
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
