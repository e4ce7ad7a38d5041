"""CSV exports of public market data, and the streaming CSV writer every export uses.

The writer turns rows of Python values into CSV text a spreadsheet can open safely: ISO dates,
Decimals in full precision (never through float), and text cells that a spreadsheet would run
as a formula neutralised with a leading single quote.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from market.models import DailyBar, Instrument
from market.selectors import RELATION_BENCHMARKS, InstrumentRow

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Rows are gathered into chunks of about this many characters before being sent: one chunk per
# row would make the server loop dominate the cost of a large export.
CHUNK_CHARS = 64 * 1024


class _Echo:
    """A file-like object whose write() hands back what it was given, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def neutralise(text: str) -> str:
    """Prefix a text cell that a spreadsheet would evaluate with a single quote."""
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def format_decimal(value: Decimal) -> str:
    """A Decimal as plain positional notation, exact, without trailing zeros after the point."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def _empty(value: None) -> str:
    return ""


def _boolean(value: bool) -> str:
    return "true" if value else "false"


def _isoformat(value: dt.date) -> str:
    return value.isoformat()


# Exact types first (one dict lookup per cell keeps a million-row export fast); subclasses of
# these (a TextChoices member is a str) fall through to the isinstance checks.
_FORMATTERS = {
    str: neutralise,
    Decimal: format_decimal,
    int: str,
    type(None): _empty,
    bool: _boolean,
    dt.date: _isoformat,
    dt.datetime: _isoformat,
    # Not used for money (always Decimal); repr is the shortest exact round trip of a float.
    float: repr,
}


def csv_cell(value: object) -> str:
    """One cell's text. Numbers stay numbers (a negative Decimal is written as -1.5, not
    neutralised); only text is neutralised."""
    formatter = _FORMATTERS.get(type(value))
    if formatter is not None:
        return formatter(value)
    for kind in (bool, Decimal, int, float, dt.datetime, dt.date):
        if isinstance(value, kind):
            return _FORMATTERS[kind](value)
    return neutralise(str(value))


PERCENT_PLACES = Decimal("0.0001")


def percent_cell(value: object) -> str:
    """A percentage (a column named *_percent) to 4 decimals: 66.6667, not 27 digits."""
    if isinstance(value, Decimal) and value.is_finite():
        return format_decimal(value.quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP))
    return csv_cell(value)


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The CSV text of a header and rows, in chunks of about CHUNK_CHARS characters.
    Columns whose name ends in "_percent" are written with at most 4 decimals."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    chunk: list[str] = [writer.writerow(header)]
    size = len(chunk[0])
    cells = [percent_cell if name.endswith("_percent") else csv_cell for name in header]
    for row in rows:
        line = writer.writerow(
            [
                (cells[index] if index < len(cells) else csv_cell)(value)
                for index, value in enumerate(row)
            ]
        )
        chunk.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(chunk)
            chunk = []
            size = 0
    if chunk:
        yield "".join(chunk)


def export_filename(*parts: str, on: dt.date) -> str:
    """`minerwatch-<parts>-<YYYY-MM-DD>.csv`, each part slugified."""
    slugs = [slugify(part) or "export" for part in parts]
    return "-".join(["minerwatch", *slugs, on.isoformat()]) + ".csv"


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> StreamingHttpResponse:
    """A streamed `text/csv` download; `rows` is consumed lazily while the response is sent."""
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in csv_lines(header, rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# Market exports ---------------------------------------------------------------------------------

DAILY_HISTORY_HEADER = [
    "date",
    "symbol",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "currency",
    "price_source",
]


def daily_history_rows(
    instrument: Instrument, start: dt.date, end: dt.date, *, chunk_size: int = 2000
) -> Iterator[tuple]:
    """Daily bars of one instrument from `start` to `end` inclusive, oldest first."""
    bars = (
        DailyBar.objects.filter(instrument=instrument, date__gte=start, date__lte=end)
        .order_by("date")
        .values_list("date", "open", "high", "low", "close", "adj_close", "volume", "source")
    )
    for day, open_, high, low, close, adj_close, volume, source in bars.iterator(
        chunk_size=chunk_size
    ):
        yield (
            day,
            instrument.symbol,
            open_,
            high,
            low,
            close,
            adj_close,
            volume,
            instrument.currency,
            source,
        )


MINERS_HEADER = [
    "symbol",
    "name",
    "segment",
    "price",
    "day_change_percent",
    "pre_market_change_percent",
    "post_market_change_percent",
    "market_state",
    "market_cap",
    "ytd_percent",
    "low_52w",
    "high_52w",
    "hashrate_eh",
    "hpc_contracted_mw",
    "enterprise_value",
    "ev_per_eh",
    *(
        f"{measure}_{benchmark.lower().replace('-usd', '')}"
        for benchmark in RELATION_BENCHMARKS
        for measure in ("correlation", "beta")
    ),
    "trades_like",
    "price_source",
    "price_as_of",
]


def miners_rows(rows: Iterable[InstrumentRow]) -> Iterator[tuple]:
    """The dashboard's miners table, in the order given (its sort and segment filter applied)."""
    for row in rows:
        quote = row.quote or {}
        price_range = row.range_52w
        relations = row.stats.relations if row.stats else {}
        figures = []
        for benchmark in RELATION_BENCHMARKS:
            relation = relations.get(benchmark)
            figures += [relation.correlation, relation.beta] if relation else [None, None]
        yield (
            row.symbol,
            row.name,
            row.segment,
            row.price,
            row.change_percent,
            quote.get("pre_market_change_percent"),
            quote.get("post_market_change_percent"),
            quote.get("market_state", ""),
            row.market_cap,
            row.ytd_percent,
            price_range.low if price_range else None,
            price_range.high if price_range else None,
            row.hashrate_eh,
            row.hpc_contracted_mw,
            row.enterprise_value,
            row.ev_per_eh,
            *figures,
            row.trades_like.text if row.trades_like else "",
            quote.get("source", ""),
            row.as_of,
        )
