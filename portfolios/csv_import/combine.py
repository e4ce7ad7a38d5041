"""Folding a file's dividend lines together as the ledger holds them (pure): one dividend of a
holding a day, with the tax withheld on it as its fee.

Brokers write a dividend over several lines: Schwab and Interactive Brokers put the tax withheld
on a line of its own, and a dividend paid in two parts (ordinary and capital gain, or a
reversal and its correction) on two lines of the same day. Lines of one security and day with
the same share count are added up (a total read as 1 x its amount always is); a tax line is
added to the tax of its dividend. A line that was added to another is listed as combined; lines
that cancel out, or reverse or tax a dividend the file does not hold, are skipped with why.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from portfolios.csv_import.rows import ParsedFile, RowProblem, SkippedRow, TradeRow

# How Interactive Brokers describes a dividend: "… CASH DIVIDEND USD 0.02 PER SHARE (…)".
PER_SHARE_RE = re.compile(r"\b([A-Z]{3}) (\d+(?:\.\d+)?) PER SHARE\b")
SHARE_PLACES = Decimal("0.0001")


def combine_dividends(parsed: ParsedFile, tax_column: str) -> None:
    """Add up `parsed`'s dividend lines and tax lines, in place."""
    groups: dict[tuple, list[TradeRow]] = defaultdict(list)
    for trade in parsed.trades:
        if trade.kind == "dividend":
            groups[(trade.code, trade.trade_date)].append(trade)
    outcome: dict[int, TradeRow | None] = {}  # line -> its entry now (None: no entry)
    kept: dict[tuple, TradeRow] = {}
    for key, rows in groups.items():
        if len(rows) == 1 and rows[0].price > 0:
            kept[key] = rows[0]
            continue
        if len({row.quantity for row in rows}) > 1:
            kept[key] = rows[0]  # two dividends of one day the ledger check will report
            continue
        net = sum((row.price for row in rows), Decimal(0))
        lines = ", ".join(str(row.line) for row in rows)
        if net <= 0:
            reason = (
                f"reversed within this file (lines {lines})"
                if net == 0
                else "reverses a dividend this file does not hold: the ledger cannot hold a "
                "negative dividend (correct that dividend in the portfolio instead)"
            )
            for row in rows:
                outcome[row.line] = None
                parsed.skipped.append(SkippedRow(row.line, "dividend", row.code, reason))
            continue
        first = next(row for row in rows if row.price > 0)
        merged = replace(first, price=net, fee=sum((row.fee for row in rows), Decimal(0)))
        outcome[first.line] = kept[key] = merged
        for row in rows:
            if row is not first:
                outcome[row.line] = None
                reason = f"added to the dividend on line {first.line}"
                parsed.combined.append(SkippedRow(row.line, "dividend", row.code, reason))

    for tax in parsed.taxes:
        dividend = kept.get((tax.code, tax.trade_date))
        if dividend is None:
            parsed.skipped.append(
                SkippedRow(
                    tax.line,
                    tax.kind,
                    tax.code,
                    f"tax on a dividend of {tax.code} on {tax.trade_date} that this file does "
                    "not hold: add it to that dividend's tax (fee) in the portfolio",
                )
            )
            continue
        # Withheld tax is written negative (money out); a refund positive.
        fee = dividend.fee - tax.amount
        if fee < 0:
            parsed.problems.append(
                RowProblem(
                    tax.line,
                    tax_column,
                    f"refunds more tax than the dividend on line {dividend.line} had withheld",
                )
            )
            continue
        dividend = replace(dividend, fee=fee)
        kept[(tax.code, tax.trade_date)] = outcome[dividend.line] = dividend
        parsed.combined.append(
            SkippedRow(
                tax.line,
                tax.kind,
                tax.code,
                f"taken as tax withheld on the dividend on line {dividend.line}",
            )
        )
    parsed.taxes = []
    if outcome:
        parsed.trades = [
            outcome.get(trade.line, trade)
            for trade in parsed.trades
            if outcome.get(trade.line, trade) is not None
        ]
    parsed.trades = [_per_share(trade) for trade in parsed.trades]
    parsed.skipped.sort(key=lambda row: row.line)
    parsed.combined.sort(key=lambda row: row.line)


def _per_share(trade: TradeRow) -> TradeRow:
    """A dividend given as a total whose description states the amount per share (in the
    dividend's currency) is held as its shares x that amount, when they make the total exactly;
    otherwise it stays 1 x the total."""
    if not (trade.kind == "dividend" and trade.total and trade.quantity == 1):
        return trade
    match = PER_SHARE_RE.search(trade.note.upper())
    if match is None or (trade.currency and match.group(1) != trade.currency):
        return trade
    per_share = Decimal(match.group(2))
    if per_share <= 0:
        return trade
    shares = (trade.price / per_share).quantize(SHARE_PLACES)
    if shares <= 0 or shares * per_share != trade.price:
        return trade
    return replace(trade, quantity=shares, price=per_share)
