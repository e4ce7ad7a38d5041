"""Writing a portfolio's ledger: every change to a transaction recomputes its holding.

Transactions are the truth. A holding's quantity, average cost, cost basis and realized P&L are
recomputed from its trades and the instrument's split events by `recompute_holding`, in the same
database transaction as the write and with the holding row locked, so two writes to one holding
never interleave. A write that would leave the ledger impossible (a sell of more than was held on
its date, now or after an edit) raises `LedgerError` and writes nothing.

The recompute itself lives in `portfolios.services.recompute`; its names are importable from
here as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction as db

from market.models import Instrument
from portfolios import ledger
from portfolios.models import Holding, Portfolio, Transaction
from portfolios.services import dividends
from portfolios.services.instruments import ensure_fx_instruments, find_or_add_instrument
from portfolios.services.recompute import (  # noqa: F401 (re-exported for callers)
    HOLDING_FIELDS,
    _locked_holding,
    _Oversold,
    _oversold_text,
    _recompute_locked,
    recompute_holding,
)
from portfolios.services.trade_values import (  # noqa: F401 (re-exported for callers)
    EARLIEST_TRADE_DATE,
    EDITABLE_FIELDS,
    MAX_INTEGER_DIGITS,
    MAX_PLACES,
    TRADE_KINDS,
    VALUE_LIMIT,
    LedgerError,
    RowError,
    TradeInput,
    _date,
    _decimal,
    _quantity_text,
    clean_trade_values,
    split_label,
)


def _fx_pairs(portfolio: Portfolio, currencies: Iterable[str]) -> set[tuple[str, str]]:
    pairs = set()
    for currency in currencies:
        pairs.add((currency, portfolio.base_currency))
        pairs.add((currency, "USD"))  # market-cap tiers are in dollars
    return pairs


def record_transaction(
    *,
    portfolio: Portfolio,
    instrument: Instrument,
    kind: str,
    trade_date: date,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal = Decimal(0),
    note: str = "",
) -> Transaction:
    """Record a buy or sell and recompute its holding, or raise LedgerError and write nothing."""
    values, problems = clean_trade_values(
        kind=kind, trade_date=trade_date, quantity=quantity, price=price, fee=fee, note=note
    )
    if problems:
        raise LedgerError(RowError(None, field, message) for field, message in problems)
    with db.atomic():
        holding = _locked_holding(portfolio, instrument)
        if values["kind"] == Transaction.Kind.DIVIDEND:
            taken = dividends.make_room([(holding.pk, values["trade_date"])])
            if taken:
                text = dividends.taken_text(instrument.symbol, *taken.values())
                raise LedgerError([RowError(None, "trade_date", text)])
        entry = Transaction.objects.create(
            holding=holding, portfolio_id=holding.portfolio_id, **values
        )
        try:
            _recompute_locked(holding, since=entry.trade_date)
        except _Oversold as exc:
            raise LedgerError(
                RowError(
                    None,
                    "quantity",
                    _oversold_text(holding, o, "" if o.key == entry.pk else "This sell"),
                )
                for o in exc.oversold
            ) from None
        ensure_fx_instruments(_fx_pairs(portfolio, [instrument.currency]))
    return entry


def update_transaction(*, transaction: Transaction, **fields) -> Transaction:
    """Change a buy or sell (kind, trade_date, quantity, price, fee, note) and recompute."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"cannot edit {', '.join(sorted(unknown))} of a transaction")
    if transaction.kind == Transaction.Kind.SPLIT:
        raise LedgerError(
            [RowError(None, NON_FIELD_ERRORS, "Split entries follow the market's split history.")]
        )
    merged = {name: fields.get(name, getattr(transaction, name)) for name in EDITABLE_FIELDS}
    values, problems = clean_trade_values(**merged)
    if (values["kind"] == Transaction.Kind.DIVIDEND) != transaction.is_dividend:
        problems.append(("kind", "A dividend stays a dividend, and a trade stays a trade."))
    if problems:
        raise LedgerError(RowError(None, field, message) for field, message in problems)
    changed = [name for name in EDITABLE_FIELDS if values[name] != getattr(transaction, name)]
    with db.atomic():
        holding = (
            Holding.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .get(pk=transaction.holding_id)
        )
        entry = holding.transactions.get(pk=transaction.pk)
        since = min(entry.trade_date, values["trade_date"])
        for name, value in values.items():
            setattr(entry, name, value)
        entry.automatic = False  # an edited automatic dividend is the user's from now on
        entry.save(update_fields=[*EDITABLE_FIELDS, "automatic"])
        try:
            _recompute_locked(holding, since=since)
        except _Oversold as exc:
            blame = next(
                (name for name in ("quantity", "trade_date", "kind") if name in changed),
                NON_FIELD_ERRORS,
            )
            raise LedgerError(
                RowError(
                    None,
                    "quantity" if o.key == entry.pk else blame,
                    _oversold_text(holding, o, "" if o.key == entry.pk else "This change"),
                )
                for o in exc.oversold
            ) from None
    return entry


def delete_transaction(*, transaction: Transaction) -> None:
    """Delete a buy or sell and recompute, refusing when a later sell would be oversold."""
    if transaction.kind == Transaction.Kind.SPLIT:
        raise LedgerError(
            [RowError(None, NON_FIELD_ERRORS, "Split entries follow the market's split history.")]
        )
    if transaction.is_dividend and transaction.automatic:
        raise LedgerError(
            [
                RowError(
                    None,
                    NON_FIELD_ERRORS,
                    "This dividend comes from the market's dividend history; edit it instead "
                    "(for example the tax withheld).",
                )
            ]
        )
    with db.atomic():
        holding = (
            Holding.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .get(pk=transaction.holding_id)
        )
        holding.transactions.filter(pk=transaction.pk).delete()
        try:
            _recompute_locked(holding, since=transaction.trade_date)
        except _Oversold as exc:
            what = "Deleting this buy" if transaction.kind == Transaction.Kind.BUY else "This"
            raise LedgerError(
                RowError(None, NON_FIELD_ERRORS, _oversold_text(holding, o, what))
                for o in exc.oversold
            ) from None


def record_transactions(*, portfolio: Portfolio, trades: Sequence[TradeInput]) -> list[Transaction]:
    """Record many trades at once (a CSV import): all or nothing.

    Each trade is checked on its own, then the resulting ledger of every holding it touches is
    checked as a whole. LedgerError.row_errors gives (row index in `trades`, field, message) for
    every problem found; when there is one, nothing is written.
    """
    errors: list[RowError] = []
    cleaned: list[dict] = []
    for index, trade in enumerate(trades):
        values, problems = clean_trade_values(
            kind=trade.kind,
            trade_date=trade.trade_date,
            quantity=trade.quantity,
            price=trade.price,
            fee=trade.fee,
            note=trade.note,
        )
        errors.extend(RowError(index, field, message) for field, message in problems)
        cleaned.append(values)

    instruments = _resolve_instruments(trades, errors, user=portfolio.owner)
    first_dividend: dict[tuple, int] = {}  # (instrument id, day) -> its first dividend's row
    for index, (instrument, values) in enumerate(zip(instruments, cleaned, strict=True)):
        if instrument is None or values["kind"] != Transaction.Kind.DIVIDEND:
            continue
        first = first_dividend.setdefault((instrument.pk, values["trade_date"]), index)
        if first != index:
            errors.append(
                RowError(
                    index,
                    "trade_date",
                    f"A second dividend of {instrument.symbol} on {values['trade_date']} (row "
                    f"{first + 1} has one): the ledger holds one dividend of a holding a day.",
                )
            )
    if errors:
        raise LedgerError(sorted(errors, key=lambda e: (e.row, e.field)))
    if not trades:
        return []

    with db.atomic():
        wanted = {instrument.pk: instrument for instrument in instruments}
        Holding.objects.bulk_create(
            [Holding(portfolio=portfolio, instrument_id=pk) for pk in wanted],
            ignore_conflicts=True,
        )
        holdings = {
            h.instrument_id: h
            for h in Holding.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .filter(portfolio=portfolio, instrument_id__in=wanted)
            .order_by("pk")
        }
        # A dividend already recorded on the same day is reported with the other problems; the
        # rest are written (and rolled back), so that every oversold sell is reported too.
        taken = dividends.make_room([(holdings[pk].pk, day) for pk, day in first_dividend])
        blocked = {
            index: entry
            for (pk, day), index in first_dividend.items()
            if (entry := taken.get((holdings[pk].pk, day))) is not None
        }
        errors.extend(
            RowError(index, "trade_date", dividends.taken_text(instruments[index].symbol, entry))
            for index, entry in blocked.items()
        )
        rows = [
            (index, instrument, values)
            for index, (instrument, values) in enumerate(zip(instruments, cleaned, strict=True))
            if index not in blocked
        ]
        entries = Transaction.objects.bulk_create(
            [
                Transaction(holding=holdings[instrument.pk], portfolio=portfolio, **values)
                for _, instrument, values in rows
            ]
        )
        row_of = {entry.pk: index for (index, _, _), entry in zip(rows, entries, strict=True)}
        first = min(values["trade_date"] for values in cleaned)
        for holding in holdings.values():
            try:
                _recompute_locked(holding, since=first)
            except _Oversold as exc:
                errors.extend(_blame_rows(holding, exc.oversold, entries, row_of))
        if errors:
            raise LedgerError(sorted(errors, key=lambda e: (e.row is None, e.row or 0)))
        ensure_fx_instruments(_fx_pairs(portfolio, {i.currency for i in instruments}))
    return entries


def _resolve_instruments(trades: Sequence[TradeInput], errors: list[RowError], *, user) -> list:
    """The instrument of every trade (None where it cannot be found, with a row error)."""
    symbols = {
        trade.symbol.strip().upper()
        for trade in trades
        if trade.instrument is None and trade.symbol.strip()
    }
    known = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    looked_up: dict[str, Instrument | ValidationError] = {}
    resolved = []
    for index, trade in enumerate(trades):
        if trade.instrument is not None:
            resolved.append(trade.instrument)
            continue
        symbol = trade.symbol.strip().upper()
        instrument = known.get(symbol)
        if instrument is None:
            if symbol not in looked_up:
                try:
                    looked_up[symbol] = find_or_add_instrument(symbol, user=user)
                except ValidationError as exc:
                    looked_up[symbol] = exc
            found = looked_up[symbol]
            if isinstance(found, ValidationError):
                errors.append(RowError(index, "symbol", found.messages[0]))
                found = None
            instrument = found
        resolved.append(instrument)
    return resolved


def _blame_rows(
    holding: Holding,
    oversold: list[ledger.Oversold],
    entries: list[Transaction],
    row_of: dict[int, int],
) -> list[RowError]:
    """Row errors for the oversold sells of one holding: on the sell itself when it is new, or
    on the latest new sell before it when an existing sell became oversold."""
    errors = []
    new_sells = sorted(
        (e for e in entries if e.holding_id == holding.pk and e.kind == Transaction.Kind.SELL),
        key=lambda e: (e.trade_date, e.pk),
    )
    for item in oversold:
        if item.key in row_of:
            errors.append(RowError(row_of[item.key], "quantity", _oversold_text(holding, item)))
            continue
        culprit = next((e for e in reversed(new_sells) if e.trade_date <= item.trade_date), None)
        row = row_of[culprit.pk] if culprit is not None else None
        errors.append(
            RowError(
                row,
                "quantity" if row is not None else NON_FIELD_ERRORS,
                _oversold_text(holding, item, "This sell"),
            )
        )
    return errors
