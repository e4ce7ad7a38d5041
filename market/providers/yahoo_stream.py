"""Yahoo Finance's price streamer: its subscribe messages and its frames, decoded into ticks.

The streamer (wss://streamer.finance.yahoo.com/?version=2) takes JSON text messages
`{"subscribe": [symbols]}` and `{"unsubscribe": [symbols]}` (the subscription is resent now
and then as a heartbeat, as yfinance's own client does) and answers with JSON text frames
`{"type": "pricing", "message": "<base64 protobuf PricingData>"}`. The protobuf schema ships
with yfinance (`yfinance.pricing_pb2`).

What real frames teach (../shared/yahoo-stream/SOURCES.md): fields at their zero value are left
out (a pre-market frame has no `market_hours`); `price` is a 32-bit float, rounded here to the
frame's `price_hint` decimals; `market_hours` may hold values the schema does not name
(overnight trading), which count as extended hours; and the frame's own `time` dates the price.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf.message import DecodeError
from yfinance import pricing_pb2

from market.rules import MINOR_UNITS

from .ticks import EXTENDED, POST, PRE, REGULAR, Tick

# PricingData.MarketHoursType: PRE_MARKET = 0, REGULAR_MARKET = 1, POST_MARKET = 2,
# EXTENDED_HOURS_MARKET = 3; anything else (overnight trading) is extended hours too.
MARKET_HOURS = {0: PRE, 1: REGULAR, 2: POST, 3: EXTENDED}
DEFAULT_PLACES = 4
MAX_PLACES = 8


class MalformedFrame(ValueError):
    """A frame that is not a pricing message we can read."""


def subscribe_message(symbols) -> str:
    return json.dumps({"subscribe": sorted(symbols)})


def unsubscribe_message(symbols) -> str:
    return json.dumps({"unsubscribe": sorted(symbols)})


def _rounded(value: float, places: int) -> Decimal | None:
    if value is None or not math.isfinite(value) or value == 0:
        return None
    try:
        return round(Decimal(repr(float(value))), places)
    except (InvalidOperation, ValueError):
        return None


def decode_frame(frame: str | bytes) -> Tick:
    """The tick a text frame carries; MalformedFrame for anything else."""
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
    places = min(int(data.price_hint), MAX_PLACES) if data.price_hint > 0 else DEFAULT_PLACES
    # A market quoted in a minor unit (London's pence): its prices in the major unit, as the
    # batch quotes and the bars have them; 2 more places keep every digit.
    currency, divisor = MINOR_UNITS.get(data.currency, (data.currency.upper()[:3], 1))
    if divisor != 1:
        places = min(places + 2, MAX_PLACES)

    def _price(value: float) -> Decimal | None:
        return _rounded(value / divisor if value else value, places)

    price = _price(data.price)
    if price is None or price <= 0:
        raise MalformedFrame(f"{data.id}: no usable price ({data.price!r})")
    try:
        moment = datetime.fromtimestamp(data.time / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedFrame(f"{data.id}: bad time {data.time}") from exc
    return Tick(
        symbol=data.id.upper(),
        price=price,
        at=moment,
        session=MARKET_HOURS.get(int(data.market_hours), EXTENDED),
        change=_price(data.change) if data.change else Decimal(0),
        change_percent=_rounded(data.change_percent, 4) if data.change_percent else Decimal(0),
        day_high=_price(data.day_high),
        day_low=_price(data.day_low),
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
