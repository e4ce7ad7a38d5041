"""Checking a read file against the database, and writing its entries through the ledger.

`preview_import` finds the instrument of every trade and dividend (the symbol as written, a
crypto pair written without its dash, or an ISIN looked up with the market-data provider),
keeps the cash entries in the portfolio's base currency, leaves out the entries already in the
portfolio and the rows we cannot price or hold (with their reason), and checks the rest against
the ledger without writing anything. `confirm_import` writes exactly the entries the preview
listed, in one database transaction, or none of them.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from market.models import DailyBar, Instrument
from market.providers import MarketDataProvider, SearchHit
from portfolios.csv_import import writes
from portfolios.csv_import.cells import ImportRefused
from portfolios.csv_import.codes import Progress, resolve_codes
from portfolios.csv_import.formats import FIELD_LABELS
from portfolios.csv_import.reader import parse_transactions_csv
from portfolios.csv_import.results import (  # noqa: F401 (re-exported for callers)
    KIND_NAMES,
    ImportBlocked,
    ImportPreview,
    ImportResult,
    SymbolMapping,
)
from portfolios.csv_import.rows import (
    CashRow,
    ParsedFile,
    RowProblem,
    SkippedRow,
    TradeRow,
)
from portfolios.models import Portfolio, Transaction
from portfolios.services.instruments import ensure_fx_instruments, fx_symbol

HOLDING_KINDS = [Transaction.Kind.BUY, Transaction.Kind.SELL, Transaction.Kind.DIVIDEND]


def _symbol_column(parsed: ParsedFile, trade: TradeRow) -> str:
    name = "symbol" if trade.symbol else "isin"
    return parsed.columns.get(name, FIELD_LABELS[name])


def preview_import(
    *,
    portfolio: Portfolio,
    content: bytes,
    check_ledger: bool = True,
    provider: MarketDataProvider | None = None,
    listings: dict[str, str] | None = None,
    searched: dict[str, list[SearchHit]] | None = None,
    progress: Progress | None = None,
) -> ImportPreview:
    """Read the file and check every entry against the database without writing anything.

    Raises ImportRefused for a file that cannot be read at all. ISINs are looked up with
    `provider` (the configured one by default) unless `searched` holds a previous preview's
    answers; `listings` gives the user's pick for an ISIN listed several times. With
    `check_ledger`, the entries are recorded by the ledger services inside a transaction that is
    rolled back, so the preview reports exactly what confirming would refuse (an oversold sell,
    a future date, a second dividend of a day). `progress(step, done, total)` hears how far it
    got (the import task shows it); ISIN lookups spend the portfolio owner's
    PROVIDER_LOOKUPS_PER_MINUTE, and those past it wait for the next preview."""
    parsed = parse_transactions_csv(content, max_bytes=settings.CSV_IMPORT_MAX_BYTES)
    preview = ImportPreview(
        parsed=parsed,
        problems=list(parsed.problems),
        skipped=list(parsed.skipped),
        searched=dict(searched or {}),
    )
    resolved, failed, preview.mappings = resolve_codes(
        parsed.trades,
        provider=provider,
        listings=listings or {},
        searched=preview.searched,
        owner_id=portfolio.owner_id,
        progress=progress,
    )
    preview.deferred_lookups = sorted(code for code, why in failed.items() if why == "deferred")
    found, unknown = _match_instruments(preview, resolved, failed)
    found = _without_second_dividends(preview, found)
    _leave_out_duplicates(portfolio, preview, found, _cash_in_base_currency(portfolio, preview))
    preview.skipped.sort(key=lambda row: row.line)

    if check_ledger:
        if progress is not None:
            progress(f"Checking {preview.write_count:,} entries against the ledger", 0, 0)
        writes.check_ledger(portfolio, preview, unknown)
    preview.problems.sort(key=lambda p: (p.line, p.column))
    # A row with a problem is never also listed as read without one.
    blocked = {problem.line for problem in preview.problems}
    preview.to_write = [(t, i) for t, i in preview.to_write if t.line not in blocked]
    preview.cash_to_write = [row for row in preview.cash_to_write if row.line not in blocked]
    return preview


# Why a code could not be resolved, as said on its row ("problem" and "deferred" block the
# import; any other reason skips the row).
UNRESOLVED_TEXTS = {
    "deferred": "the ISIN {code} was not looked up yet: this file asks for more lookups than one "
    "account may make in a minute (see above)",
    "problem": "the ISIN {code} could not be looked up (the market-data provider did not "
    "answer); try again in a minute",
}


def _match_instruments(
    preview: ImportPreview, resolved: dict[str, str], failed: dict[str, str]
) -> tuple[list[tuple[TradeRow, Instrument]], dict[str, list[TradeRow]]]:
    """Each trade's instrument; the trades of symbols we do not follow (by symbol). A trade
    whose code was not resolved, or whose instrument we do not follow or trades in another
    currency, is a problem or a skipped row of `preview`."""
    parsed = preview.parsed
    instruments = {
        i.symbol: i for i in Instrument.objects.filter(symbol__in=set(resolved.values()))
    }
    unknown: dict[str, list[TradeRow]] = defaultdict(list)
    found: list[tuple[TradeRow, Instrument]] = []
    for trade in parsed.trades:
        code = trade.code
        if code in failed:
            text = UNRESOLVED_TEXTS.get(failed[code])
            if text is None:
                preview.skipped.append(SkippedRow(trade.line, trade.kind, code, failed[code]))
            else:
                column = _symbol_column(parsed, trade)
                preview.problems.append(RowProblem(trade.line, column, text.format(code=code)))
            continue
        symbol = resolved[code]
        instrument = instruments.get(symbol)
        if instrument is None:
            unknown[symbol].append(trade)
            preview.problems.append(
                RowProblem(
                    trade.line,
                    _symbol_column(parsed, trade),
                    f"{symbol} is not an instrument we follow yet: add it with the button "
                    "below, or correct the symbol in the file",
                )
            )
        elif trade.currency and trade.currency != instrument.currency:
            preview.problems.append(
                RowProblem(
                    trade.line,
                    parsed.columns["currency"],
                    f"{symbol} trades in {instrument.currency}, not {trade.currency}",
                )
            )
        else:
            found.append((trade, instrument))
    preview.unknown_symbols = list(unknown)
    return found, unknown


# A converted cash amount: to the cent.
CONVERTED_PLACES = Decimal("0.01")


def _cash_in_base_currency(portfolio: Portfolio, preview: ImportPreview) -> list[CashRow]:
    """The file's cash entries in the portfolio's base currency: those written in it (or in no
    stated currency) as they are, the others converted at the FX close of their date (the last
    daily close of the rate on or before it), since its cash is kept in one currency. One
    without such a close is skipped with why, and the rate is added to the instruments the
    bars refresh fetches, so that importing the file again converts it."""
    base = portfolio.base_currency
    foreign = {row.currency for row in preview.parsed.cash if row.currency and row.currency != base}
    closes = {
        currency: list(
            DailyBar.objects.filter(instrument__symbol=fx_symbol(currency, base))
            .order_by("date")
            .values_list("date", "close")
        )
        for currency in foreign
    }
    kept, missing = [], set()
    for row in preview.parsed.cash:
        if not row.currency or row.currency == base:
            kept.append(row)
            continue
        series = closes[row.currency]
        at = bisect_right([day for day, _ in series], row.trade_date)
        if at == 0:
            what = KIND_NAMES[row.kind][0]
            article = "an" if what[0] in "aeiou" else "a"
            reason = (
                f"{article} {what} in {row.currency}: no {fx_symbol(row.currency, base)} close "
                f"on or before {row.trade_date} to convert it into {base}, the currency "
                f"{portfolio.name} keeps its cash in (the rate is fetched from now on)"
            )
            preview.skipped.append(SkippedRow(row.line, row.kind, "", reason))
            missing.add((row.currency, base))
            continue
        rate = series[at - 1][1]
        written = f"{row.amount.normalize():f} {row.currency} at {rate.normalize():f}"
        kept.append(
            replace(
                row,
                amount=(row.amount * rate).quantize(CONVERTED_PLACES),
                currency=base,
                note=f"{row.note} ({written})" if row.note else written,
            )
        )
    ensure_fx_instruments(missing)
    return kept


def _without_second_dividends(
    preview: ImportPreview, found: list[tuple[TradeRow, Instrument]]
) -> list[tuple[TradeRow, Instrument]]:
    """`found` less each dividend of a holding on a day the file already paid one on (with
    another share count: `combine` added up those with the same), which is a problem."""
    first: dict[tuple, int] = {}
    kept = []
    for trade, instrument in found:
        line = trade.line
        if trade.kind == Transaction.Kind.DIVIDEND:
            line = first.setdefault((instrument.pk, trade.trade_date), trade.line)
        if line == trade.line:
            kept.append((trade, instrument))
        else:
            preview.problems.append(
                RowProblem(
                    trade.line,
                    _parsed_column(preview.parsed, "date"),
                    f"a second dividend of {instrument.symbol} on {trade.trade_date} (line "
                    f"{line} has one, for another number of shares): the ledger holds one "
                    "dividend of a holding a day, so put them on one line",
                )
            )
    return kept


def _leave_out_duplicates(
    portfolio: Portfolio,
    preview: ImportPreview,
    found: list[tuple[TradeRow, Instrument]],
    cash: list[CashRow],
) -> None:
    """Entries already in the portfolio (the same file imported before, or overlapping files)
    are left out, counted as a multiset so that two identical fills in one file both count.
    Automatic dividends are not the user's: a dividend of the file takes their place."""
    existing = Counter(
        Transaction.objects.filter(portfolio=portfolio, kind__in=HOLDING_KINDS, automatic=False)
        .values_list(
            "holding__instrument__symbol", "kind", "trade_date", "quantity", "price", "fee"
        )
        .order_by()
    )
    for trade, instrument in found:
        key = (
            instrument.symbol,
            trade.kind,
            trade.trade_date,
            trade.quantity,
            trade.price,
            trade.fee,
        )
        if existing[key] > 0:
            existing[key] -= 1
            preview.duplicates.append(trade)
        else:
            preview.to_write.append((trade, instrument))
    existing_cash = Counter(
        Transaction.objects.filter(portfolio=portfolio, kind__in=Transaction.CASH_KINDS)
        .values_list("kind", "trade_date", "amount")
        .order_by()
    )
    for row in cash:
        key = (row.kind, row.trade_date, row.amount)
        if existing_cash[key] > 0:
            existing_cash[key] -= 1
            preview.duplicates.append(row)
        else:
            preview.cash_to_write.append(row)
    preview.duplicates.sort(key=lambda row: row.line)


def _parsed_column(parsed: ParsedFile, name: str) -> str:
    return parsed.columns.get(name, FIELD_LABELS[name])


def confirm_import(
    *,
    portfolio: Portfolio,
    content: bytes,
    sha256: str,
    listings: dict[str, str] | None = None,
    searched: dict[str, list[SearchHit]] | None = None,
    provider: MarketDataProvider | None = None,
) -> ImportResult:
    """Write the file's entries into the portfolio in one database transaction, or none of them.

    The file is read and checked again from scratch, with the preview's ISIN lookups
    (`searched`) and the user's `listings`, so it writes the entries the preview showed: raises
    ImportRefused when it is not the file that was previewed or cannot be read, ImportBlocked
    (nothing written) when any row has a problem now."""
    if hashlib.sha256(content).hexdigest() != sha256:
        raise ImportRefused("The uploaded file changed since its preview; upload it again.")
    with transaction.atomic():
        # One import at a time per portfolio, so a double-submitted confirm sees the first
        # one's entries as already imported instead of writing them twice.
        Portfolio.objects.select_for_update(of=("self",)).filter(pk=portfolio.pk).first()
        preview = preview_import(
            portfolio=portfolio,
            content=content,
            check_ledger=False,
            provider=provider,
            listings=listings,
            searched=searched,
        )
        if preview.problems or not preview.write_count:
            raise ImportBlocked(preview)
        try:
            written = writes.write(portfolio, preview, preview.to_write, preview.cash_to_write)
        except writes.EntriesRefused as exc:
            preview.problems.extend(exc.problems)
            preview.problems.sort(key=lambda p: (p.line, p.column))
            raise ImportBlocked(preview) from None
    return ImportResult(
        written=written,
        duplicates=len(preview.duplicates),
        skipped=len(preview.skipped),
        kinds=preview.kind_counts,
    )
