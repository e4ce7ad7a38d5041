"""Loading the miners universe and benchmarks from the data file shipped in the repo."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from market.models import Instrument, Miner
from market.rules import SYMBOL_RE

UNIVERSE_FILE = Path(__file__).resolve().parent / "data" / "universe.csv"

REQUIRED_COLUMNS = ["symbol", "name", "kind", "currency", "is_benchmark", "segment"]
AS_OF_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
INSTRUMENT_FIELDS = ["name", "kind", "exchange", "currency", "is_benchmark"]
MINER_FIELDS = [
    "segment",
    "country",
    "listing",
    "hashrate_eh",
    "hashrate_as_of",
    "power_mw",
    "power_kind",
    "power_as_of",
    "hpc_contracted_mw",
    "hpc_counterparties",
    "hpc_as_of",
    "notes",
    "sources",
]


class UniverseFileError(Exception):
    """The file cannot be loaded; `errors` lists every problem with its line number."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class UniverseRow:
    line: int
    symbol: str
    instrument: dict
    miner: dict | None


@dataclass
class LoadResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _decimal(value: str, column: str, errors: list[str], line: int) -> Decimal | None:
    if value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        errors.append(f"line {line}: {column} {value!r} is not a number")
        return None
    if not number.is_finite() or number < 0:
        errors.append(f"line {line}: {column} {value!r} must be a positive number")
        return None
    return number


def parse_universe(path: Path) -> list[UniverseRow]:
    """Read and validate the whole file; raise UniverseFileError listing every bad line."""
    errors: list[str] = []
    rows: list[UniverseRow] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UniverseFileError([f"cannot read {path}: {exc.strerror}"]) from exc
    with handle:
        try:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UniverseFileError([f"line 1: missing column(s): {', '.join(missing)}"])
            seen: dict[str, int] = {}
            for record in reader:
                line = reader.line_num
                if None in record:
                    errors.append(f"line {line}: more cells than columns")
                    continue
                cell = {k: (v or "").strip() for k, v in record.items()}
                row = _parse_row(cell, line, errors)
                if row is None:
                    continue
                if row.symbol in seen:
                    errors.append(
                        f"line {line}: symbol {row.symbol} already given on line {seen[row.symbol]}"
                    )
                    continue
                seen[row.symbol] = line
                rows.append(row)
        except UnicodeDecodeError as exc:
            raise UniverseFileError([f"{path} is not UTF-8 text: {exc.reason}"]) from exc
        except csv.Error as exc:
            raise UniverseFileError([f"line {reader.line_num}: {exc}"]) from exc
    if errors:
        raise UniverseFileError(errors)
    if not rows:
        raise UniverseFileError([f"{path} has no rows"])
    return rows


def _parse_row(cell: dict[str, str], line: int, errors: list[str]) -> UniverseRow | None:
    before = len(errors)
    symbol = cell.get("symbol", "").upper()
    # The universe lists companies and benchmarks, never an index (^GSPC).
    if not SYMBOL_RE.match(symbol) or symbol.startswith("^"):
        errors.append(f"line {line}: symbol {cell.get('symbol', '')!r} is not a valid symbol")
    if not cell.get("name"):
        errors.append(f"line {line}: name is empty")
    kind = cell.get("kind", "")
    if kind not in Instrument.Kind.values:
        errors.append(
            f"line {line}: kind {kind!r} is not one of {', '.join(Instrument.Kind.values)}"
        )
    currency = cell.get("currency", "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        errors.append(f"line {line}: currency {cell.get('currency', '')!r} is not a 3-letter code")
    benchmark = cell.get("is_benchmark", "")
    if benchmark not in {"0", "1"}:
        errors.append(f"line {line}: is_benchmark must be 0 or 1, not {benchmark!r}")
    segment = cell.get("segment", "")
    miner = None
    if segment:
        if segment not in Miner.Segment.values:
            errors.append(
                f"line {line}: segment {segment!r} is not one of {', '.join(Miner.Segment.values)}"
            )
        country = cell.get("country", "").upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            errors.append(f"line {line}: country {country!r} is not a 2-letter code")
        for column in ("hashrate_as_of", "power_as_of", "hpc_as_of"):
            if cell.get(column) and not AS_OF_RE.match(cell[column]):
                errors.append(
                    f"line {line}: {column} {cell[column]!r} is not YYYY-MM-DD or YYYY-MM"
                )
        miner = {
            "segment": segment,
            "country": country,
            "listing": cell.get("listing", ""),
            "hashrate_eh": _decimal(cell.get("hashrate_eh", ""), "hashrate_eh", errors, line),
            "hashrate_as_of": cell.get("hashrate_as_of", ""),
            "power_mw": _decimal(cell.get("power_mw", ""), "power_mw", errors, line),
            "power_kind": cell.get("power_kind", ""),
            "power_as_of": cell.get("power_as_of", ""),
            "hpc_contracted_mw": _decimal(
                cell.get("hpc_contracted_mw", ""), "hpc_contracted_mw", errors, line
            ),
            "hpc_counterparties": cell.get("hpc_counterparties", ""),
            "hpc_as_of": cell.get("hpc_as_of", ""),
            "notes": cell.get("notes", ""),
            "sources": "\n".join(
                u.strip() for u in cell.get("sources", "").split(";") if u.strip()
            ),
        }
    if len(errors) > before:
        return None
    instrument = {
        "name": cell["name"],
        "kind": kind,
        "exchange": cell.get("exchange", ""),
        "currency": currency,
        "is_benchmark": benchmark == "1",
    }
    return UniverseRow(line=line, symbol=symbol, instrument=instrument, miner=miner)


@transaction.atomic
def load_universe(*, path: Path = UNIVERSE_FILE, update: bool = False) -> LoadResult:
    """Create the instruments and miners of the file; with `update`, also overwrite their facts
    from the file (without it, facts edited in the admin are kept). All or nothing."""
    rows = parse_universe(path)
    result = LoadResult()
    existing = {i.symbol: i for i in Instrument.objects.filter(symbol__in=[r.symbol for r in rows])}
    miners = {m.instrument_id: m for m in Miner.objects.filter(instrument__in=existing.values())}
    for row in rows:
        instrument = existing.get(row.symbol)
        if instrument is None:
            instrument = Instrument.objects.create(symbol=row.symbol, **row.instrument)
            if row.miner:
                Miner.objects.create(instrument=instrument, **row.miner)
            result.created.append(row.symbol)
            continue
        miner = miners.get(instrument.pk)
        changed = _differs(instrument, row.instrument, INSTRUMENT_FIELDS) or (
            row.miner is not None and (miner is None or _differs(miner, row.miner, MINER_FIELDS))
        )
        if not update or not changed:
            result.unchanged.append(row.symbol)
            continue
        for name, value in row.instrument.items():
            setattr(instrument, name, value)
        instrument.save()
        if row.miner:
            Miner.objects.update_or_create(instrument=instrument, defaults=row.miner)
        result.updated.append(row.symbol)
    return result


def _differs(obj, values: dict, fields: list[str]) -> bool:
    return any(getattr(obj, name) != values[name] for name in fields)
