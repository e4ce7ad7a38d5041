"""Yahoo Finance's price streamer: its subscribe messages and its frames, decoded into ticks.

The streamer (wss://streamer.finance.yahoo.com/?version=2) takes JSON text messages
`{"subscribe": [symbols]}` and `{"unsubscribe": [symbols]}` (the subscription is resent now
and then as a heartbeat, as yfinance's own client does) and answers with JSON text frames
`{"type": "pricing", "message": "<base64 protobuf PricingData>"}`. The protobuf schema ships
with yfinance (`yfinance.pricing_pb2`).

What real frames teach (tests/data/yahoo-stream/SOURCES.md): fields at their zero value are left
out (a pre-market frame has no `market_hours`); numbers are 32-bit floats, read here as the
shortest decimal that is the same float (TSLA's 407.4805 stays 407.4805, never rounded to the
frame's `price_hint`), at most the 6 decimals the daily bars keep; `market_hours` may hold values
the schema does not name (overnight trading), which count as extended hours; and the frame's own
`time` dates the price. The frame's `change` is measured from the last regular close (the
previous close in the regular session), so price - change gives that close, to the decimals the
two floats can tell.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from google.protobuf.message import DecodeError
from yfinance import pricing_pb2

from market.rules import MINOR_UNITS

from .base import BAR_PLACES, PRICE_LIMIT
from .ticks import EXTENDED, POST, PRE, REGULAR, Tick

# PricingData.MarketHoursType: PRE_MARKET = 0, REGULAR_MARKET = 1, POST_MARKET = 2,
# EXTENDED_HOURS_MARKET = 3; anything else (overnight trading) is extended hours too.
MARKET_HOURS = {0: PRE, 1: REGULAR, 2: POST, 3: EXTENDED}
# A price keeps at most the decimals of a daily bar, in the unit the frame quotes it in.
MOST_PLACES = -BAR_PLACES.as_tuple().exponent
FOUR_PLACES = Decimal("0.0001")
PERCENT_LIMIT = 10**8  # Quote.change_percent: DecimalField(max_digits=12, decimal_places=4)


class MalformedFrame(ValueError):
    """A frame that is not a pricing message we can read."""


def subscribe_message(symbols) -> str:
    return json.dumps({"subscribe": sorted(symbols)})


def unsubscribe_message(symbols) -> str:
    return json.dumps({"unsubscribe": sorted(symbols)})


def _same_float32(a: float, b: float) -> bool:
    return struct.pack("<f", a) == struct.pack("<f", b)


def float32_decimal(value: float, most: int = MOST_PLACES) -> Decimal | None:
    """The shortest decimal, with at most `most` places, that is the same 32-bit float as
    `value` (None for zero, NaN, infinities and values no price column holds):
    407.4804992675781 -> 407.4805."""
    if value is None or not math.isfinite(value) or value == 0 or abs(value) >= PRICE_LIMIT:
        return None
    exact = Decimal(value)
    for places in range(most + 1):
        candidate = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        if _same_float32(float(candidate), value):
            return candidate
    return exact.quantize(Decimal(1).scaleb(-most), rounding=ROUND_HALF_EVEN)


def _ulp(value: float) -> float:
    """The spacing of 32-bit floats around `value` (0 for zero)."""
    if value == 0:
        return 0.0
    _, exponent = math.frexp(value)
    return math.ldexp(1.0, exponent - 24)


def reference_price(price: float, change: float, most: int = MOST_PLACES) -> Decimal | None:
    """price - change, the close the change is measured from, rounded to the decimals that two
    32-bit floats can tell (4 for a price in the hundreds, 2 for one in the tens of thousands)."""
    if not (math.isfinite(price) and math.isfinite(change)) or abs(change) >= PRICE_LIMIT:
        return None
    spread = _ulp(price) + _ulp(change)
    places = most if spread == 0 else max(0, min(most, math.floor(-math.log10(spread))))
    reference = (Decimal(price) - Decimal(change)).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN
    )
    return reference if 0 < reference < PRICE_LIMIT else None


def _parse(frame: str | bytes) -> pricing_pb2.PricingData:
    try:
        envelope = json.loads(frame)
    except (ValueError, TypeError) as exc:
        raise MalformedFrame(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), str):
        raise MalformedFrame("no base64 'message' in the frame")
    try:
        raw = base64.b64decode(envelope["message"], validate=True)
        data = pricing_pb2.PricingData()
        data.ParseFromString(raw)
    except (binascii.Error, ValueError, DecodeError) as exc:
        raise MalformedFrame(f"undecodable message: {exc}") from exc
    if not data.id:
        raise MalformedFrame("no symbol in the message")
    if data.time <= 0:
        raise MalformedFrame(f"{data.id}: no time in the message")
    return data


def decode_frame(frame: str | bytes) -> Tick:
    """The tick a text frame carries; MalformedFrame for anything else."""
    data = _parse(frame)
    # A market quoted in a minor unit (London's pence): its prices in the major unit, as the
    # batch quotes and the bars have them.
    currency, divisor = MINOR_UNITS.get(data.currency, (data.currency.upper()[:3], 1))

    def major(value: Decimal | None) -> Decimal | None:
        return value / divisor if value is not None and divisor != 1 else value

    price = major(float32_decimal(data.price))
    if price is None or price <= 0:
        raise MalformedFrame(f"{data.id}: no usable price ({data.price!r})")
    try:
        moment = datetime.fromtimestamp(data.time / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedFrame(f"{data.id}: bad time {data.time}") from exc
    # Protobuf leaves a zero change out: an unchanged price is measured from itself.
    change = major(float32_decimal(data.change)) or Decimal(0)
    percent = data.change_percent
    if not math.isfinite(percent) or abs(percent) >= PERCENT_LIMIT:
        percent = 0.0
    return Tick(
        symbol=data.id.upper(),
        price=price,
        at=moment,
        session=MARKET_HOURS.get(int(data.market_hours), EXTENDED),
        change=change,
        change_percent=Decimal(percent).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN),
        reference_price=major(reference_price(data.price, data.change)),
        day_high=major(float32_decimal(data.day_high)),
        day_low=major(float32_decimal(data.day_low)),
        volume=int(data.day_volume) if data.day_volume > 0 else None,
        currency=currency,
    )


def encode_frame(
    symbol: str,
    price: float,
    at: datetime,
    *,
    market_hours: int = 1,
    change: float = 0.0,
    change_percent: float = 0.0,
    day_volume: int = 0,
    price_hint: int = 2,
    currency: str = "",
) -> str:
    """A text frame as the streamer sends it (for local replay servers in tests and benches)."""
    data = pricing_pb2.PricingData(
        id=symbol,
        price=price,
        time=int(at.timestamp() * 1000),
        market_hours=market_hours,
        change=change,
        change_percent=change_percent,
        day_volume=day_volume,
        price_hint=price_hint,
        currency=currency,
    )
    message = base64.b64encode(data.SerializeToString()).decode()
    return json.dumps({"type": "pricing", "message": message})
