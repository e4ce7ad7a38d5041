"""How the miners table is shown: its columns, the sort order and the segment filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from market import analytics

if TYPE_CHECKING:
    from market.selectors.rows import InstrumentRow


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool
    descending_first: bool
    title: str = ""


MINER_COLUMNS = (
    Column("symbol", "Symbol", False, False),
    Column("name", "Name", False, False),
    Column("segment", "Segment", False, False),
    Column("price", "Price", True, True),
    Column("day", "Day", True, True),
    Column("ext", "Pre/post", True, True, "Pre-market change, or after hours after the close"),
    Column("cap", "Market cap", True, True),
    Column("ytd", "YTD", True, True, "Change since the last adjusted close of last year"),
    Column("range", "52-week range", True, True, "Sorted by where the price sits in the range"),
    Column("hashrate", "EH/s", True, True, "Hashrate, exahashes per second"),
    Column("hpc", "HPC MW", True, True, "AI/HPC capacity under contract, megawatts"),
    Column("ev_eh", "EV / EH/s", True, False, "Enterprise value per EH/s of hashrate"),
    Column("like", "Trades like", False, True, analytics.LEAN_RULE),
)


COLUMN_KEYS = frozenset(column.key for column in MINER_COLUMNS)
DEFAULT_SORT = "-cap"
_SORT_VALUES = {
    "symbol": lambda r: r.symbol,
    "name": lambda r: r.name.lower(),
    "segment": lambda r: r.segment_label,
    "price": lambda r: r.price,
    "day": lambda r: r.change_percent,
    "ext": lambda r: r.extended_change_percent,
    "cap": lambda r: r.market_cap,
    "ytd": lambda r: r.ytd_percent,
    "range": lambda r: r.range_position,
    "hashrate": lambda r: r.hashrate_eh,
    "hpc": lambda r: r.hpc_contracted_mw,
    "ev_eh": lambda r: r.ev_per_eh,
    "like": lambda r: r.trades_like.sort_value if r.trades_like else None,
}


def parse_sort(sort: str | None) -> tuple[str, bool]:
    """("cap", True) for "-cap"; the default for anything unknown."""
    sort = sort or DEFAULT_SORT
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in COLUMN_KEYS:
        return parse_sort(DEFAULT_SORT)
    return key, descending


def sort_rows(rows: Iterable[InstrumentRow], sort: str | None) -> list[InstrumentRow]:
    """Sorted by the column; rows without a value go last in either direction; ties by symbol."""
    key, descending = parse_sort(sort)
    value_of = _SORT_VALUES[key]
    by_symbol = sorted(rows, key=lambda r: r.symbol)
    known = [r for r in by_symbol if value_of(r) is not None]
    unknown = [r for r in by_symbol if value_of(r) is None]
    return sorted(known, key=value_of, reverse=descending) + unknown


def miners_table(
    rows: Sequence[InstrumentRow], *, sort: str | None, segment: str | None
) -> list[InstrumentRow]:
    """The miners (benchmarks excluded) of one segment, or all, sorted."""
    miners = [r for r in rows if not r.is_benchmark]
    if segment:
        miners = [r for r in miners if r.segment == segment]
    return sort_rows(miners, sort)
