"""What a preview of an import shows, and what confirming it did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from market.models import Instrument
from market.providers import SearchHit
from portfolios.csv_import.rows import CashRow, ParsedFile, RowProblem, SkippedRow, TradeRow

# The ledger's kinds in the order a preview counts them, each as (one, several).
KIND_NAMES = {
    "buy": ("buy", "buys"),
    "sell": ("sell", "sells"),
    "dividend": ("dividend", "dividends"),
    "deposit": ("deposit", "deposits"),
    "withdrawal": ("withdrawal", "withdrawals"),
    "interest": ("interest payment", "interest payments"),
    "fee": ("fee", "fees"),
}


def kind_counts_text(kinds: Counter) -> str:
    """ "2 buys, 1 sell, 1 dividend": how many entries of each kind, in the ledger's order."""
    return ", ".join(
        f"{kinds[kind]} {names[0] if kinds[kind] == 1 else names[1]}"
        for kind, names in KIND_NAMES.items()
        if kinds[kind]
    )


@dataclass
class SymbolMapping:
    """A code of the file read as another symbol: a crypto pair, or an ISIN's listing."""

    code: str
    symbol: str
    reason: str  # "crypto pair" or "ISIN"
    listings: list[SearchHit] = field(default_factory=list)  # when there are several

    @property
    def several(self) -> bool:
        return len(self.listings) > 1


@dataclass
class ImportPreview:
    """What an import would do: the entries it would write (trades and dividends with their
    instrument, cash entries), the ones already in the portfolio, the rows it skips (with why)
    or combines with another, the codes it reads as other symbols, and every problem (a problem
    blocks the import; a skipped row does not)."""

    parsed: ParsedFile
    to_write: list[tuple[TradeRow, Instrument]] = field(default_factory=list)
    cash_to_write: list[CashRow] = field(default_factory=list)
    duplicates: list[TradeRow | CashRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    unknown_symbols: list[str] = field(default_factory=list)
    mappings: list[SymbolMapping] = field(default_factory=list)
    searched: dict[str, list[SearchHit]] = field(default_factory=dict)  # ISIN -> listings
    # ISINs not looked up because the owner's provider lookups of the minute were spent.
    deferred_lookups: list[str] = field(default_factory=list)

    @property
    def combined(self) -> list[SkippedRow]:
        return self.parsed.combined

    @property
    def write_count(self) -> int:
        return len(self.to_write) + len(self.cash_to_write)

    @property
    def kind_counts(self) -> str:
        """What would be written, by kind: "2 buys, 1 sell, 1 dividend, 1 deposit"."""
        kinds = Counter(trade.kind for trade, _ in self.to_write)
        kinds.update(row.kind for row in self.cash_to_write)
        return kind_counts_text(kinds)

    @property
    def already_imported(self) -> bool:
        """Every entry of the file is already in the portfolio: the file was imported before."""
        return not self.write_count and bool(self.duplicates) and not self.problems

    @property
    def can_confirm(self) -> bool:
        return bool(self.write_count) and not self.problems

    @property
    def has_choices(self) -> bool:
        """Some ISIN has several listings the user may pick from."""
        return any(mapping.several for mapping in self.mappings)

    @property
    def listings(self) -> dict[str, str]:
        """The listing used for each ISIN."""
        return {m.code: m.symbol for m in self.mappings if m.reason == "ISIN"}


@dataclass(frozen=True)
class ImportResult:
    written: int
    duplicates: int
    skipped: int
    kinds: str = ""  # "2 buys, 1 dividend"


class ImportBlocked(Exception):
    """Confirming found problems (the ledger changed since the preview, or the file did);
    nothing was written. `preview` holds them."""

    def __init__(self, preview: ImportPreview):
        super().__init__(f"{len(preview.problems)} problem(s)")
        self.preview = preview
