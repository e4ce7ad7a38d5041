"""Dividend entries from the market's dividend history, kept in line with a holding's ledger.

Like split entries, automatic dividend entries are derived: the per-share amount of each stored
`Dividend` times the shares held as its ex-date opens. They are created, adjusted and removed by
every recompute of the holding. A dividend the user recorded (or imported: brokers date it on the
pay date, weeks after the ex-date), or an automatic one they edited, which becomes theirs, takes
the place of the market's latest dividend up to PAY_DATE_WINDOW before it, and is never touched.

The per-share amount the ledger pays is the one paid then, in the instrument's currency:
- The provider states past dividends on today's share basis (Yahoo divides a dividend before a
  split by its ratio, and a bars run re-reads the history after a new split), while the ledger
  holds the shares of the ex-date, so the stored amount is multiplied back by the ratios of the
  splits after the ex-date.
- A dividend paid in another currency than the instrument's is converted at the FX close of its
  ex-date (the last daily bar of the rate on or before it). Without one it is left out, and
  logged, until a recompute finds the rate: the rate instrument is created so that the bars
  refresh fetches its history.
"""

from __future__ import annotations

import decimal
import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Q

from market.models import DailyBar, Dividend, Instrument
from portfolios import ledger
from portfolios.models import Holding, Transaction
from portfolios.services import derived
from portfolios.services.instruments import ensure_fx_instruments, fx_symbol

log = logging.getLogger(__name__)
# Enough digits for an amount times a rate and split ratios before rounding to stored places.
_CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)

DIVIDEND = Transaction.Kind.DIVIDEND


def dividend_label(amount) -> str:
    return f"Dividend of {amount.normalize():f} per share"


# How long after its ex-date a dividend is paid at most, as brokers date it (the pay date): a
# dividend of the user's (recorded, or imported from a broker's file) stands for the market's
# latest dividend in that window, which the ledger then does not pay a second time.
PAY_DATE_WINDOW = timedelta(days=45)


def claimed_ex_dates(own_dates: Sequence[date], ex_dates: Sequence[date]) -> set[date]:
    """The market ex-dates the user's dividends (on `own_dates`) stand for: each claims the
    latest ex-date on or before its own date, within PAY_DATE_WINDOW, that no other claimed;
    dividends are matched in date order, so a quarter's payment never takes the next one's."""
    ex_dates = sorted(set(ex_dates))
    claimed: set[date] = set()
    for day in sorted(own_dates):
        at = bisect_right(ex_dates, day)
        while at > 0:
            at -= 1
            ex_date = ex_dates[at]
            if ex_date < day - PAY_DATE_WINDOW:
                break
            if ex_date not in claimed:
                claimed.add(ex_date)
                break
    return claimed


def converted_by(fx_instrument_ids: Collection[int]) -> list[int]:
    """The instruments with a dividend paid in a currency these FX rates convert into theirs:
    the ones whose ledgers waited for the rate's history (see market_dividends)."""
    pairs = {
        (symbol[:3], symbol[3:6])
        for symbol in Instrument.objects.filter(
            pk__in=fx_instrument_ids, kind=Instrument.Kind.FX
        ).values_list("symbol", flat=True)
        if len(symbol) == 8 and symbol.endswith("=X")
    }
    if not pairs:
        return []
    wanted = Q()
    for paid_in, currency in pairs:
        wanted |= Q(currency=paid_in, instrument__currency=currency)
    return sorted(set(Dividend.objects.filter(wanted).values_list("instrument_id", flat=True)))


def market_dividends(
    holding: Holding, entries: Sequence[Transaction], splits: Sequence[ledger.Split] = ()
) -> list[ledger.DividendEvent]:
    """The instrument's dividends the ledger should pay on its own: those on an ex-date without
    a dividend of the user's, per share held then and in the instrument's currency (`splits`:
    the instrument's split history)."""
    history = list(
        Dividend.objects.filter(instrument_id=holding.instrument_id)
        .order_by("ex_date")
        .values_list("ex_date", "amount", "currency")
    )
    claimed = claimed_ex_dates(
        [e.trade_date for e in entries if e.kind == DIVIDEND and not e.automatic],
        [ex_date for ex_date, _, _ in history],
    )
    stored = [row for row in history if row[0] not in claimed]
    if not stored:
        return []
    currency = holding.instrument.currency
    foreign = {paid_in for _, _, paid_in in stored if currency and paid_in != currency}
    rates = _fx_closes(foreign, currency, until=max(ex_date for ex_date, _, _ in stored))
    events, unconverted = [], set()
    for ex_date, amount, paid_in in stored:
        if paid_in in foreign:
            rate = _close_on(rates.get(paid_in), ex_date)
            if rate is None:
                log.warning(
                    "dividend of %s %s on %s not paid to holding %s: no %s close on or "
                    "before its ex-date to convert it to %s",
                    amount,
                    paid_in,
                    ex_date,
                    holding.pk,
                    fx_symbol(paid_in, currency),
                    currency,
                )
                unconverted.add((paid_in, currency))
                continue
            amount = _CONTEXT.multiply(amount, rate)
        for split in splits:
            if split.split_date > ex_date:  # stated on the basis after this split
                amount = _CONTEXT.multiply(amount, split.ratio)
        events.append(
            ledger.DividendEvent(ex_date, amount.quantize(ledger.STORED, context=_CONTEXT))
        )
    ensure_fx_instruments(unconverted)  # the bars refresh fetches their history from now on
    return events


def _fx_closes(
    currencies: set[str], to_currency: str, *, until: date
) -> dict[str, tuple[list[date], list[Decimal]]]:
    """Each currency's daily closes in `to_currency` up to `until`: dates and closes, in order."""
    if not currencies:
        return {}
    currency_of = {fx_symbol(c, to_currency): c for c in currencies}
    closes: dict[str, tuple[list[date], list[Decimal]]] = defaultdict(lambda: ([], []))
    for symbol, day, close in (
        DailyBar.objects.filter(instrument__symbol__in=currency_of, date__lte=until)
        .order_by("date")
        .values_list("instrument__symbol", "date", "close")
    ):
        dates, values = closes[currency_of[symbol]]
        dates.append(day)
        values.append(close)
    return dict(closes)


def _close_on(series: tuple[list[date], list[Decimal]] | None, day: date) -> Decimal | None:
    if not series:
        return None
    dates, values = series
    index = bisect_right(dates, day)
    return values[index - 1] if index else None


def reconcile(holding: Holding, entries: Sequence[Transaction], position: ledger.Position) -> None:
    """Create, adjust and remove the holding's automatic dividend entries to match `position`."""
    derived.sync_entries(
        holding,
        DIVIDEND,
        {e.trade_date: e for e in entries if e.kind == DIVIDEND and e.automatic},
        {
            dividend.ex_date: {
                "quantity": position.stored(dividend.shares),
                "price": dividend.amount,
                "automatic": True,
                "note": dividend_label(dividend.amount),
            }
            for dividend in position.applied_dividends
        },
    )


def make_room(holding_days: Collection[tuple[int, date]]) -> dict[tuple[int, date], Transaction]:
    """Before the user's dividends are recorded on these (holding id, day)s: delete the automatic
    dividends there (the user's take their place) and return the user's own dividends already
    there, which a second one may not join (one dividend of a holding a day)."""
    if not holding_days:
        return {}
    wanted = set(holding_days)
    found = [
        entry
        for entry in Transaction.objects.filter(
            kind=DIVIDEND,
            holding_id__in={holding for holding, _ in wanted},
            trade_date__in={day for _, day in wanted},
        )
        if (entry.holding_id, entry.trade_date) in wanted
    ]
    automatic = [entry.pk for entry in found if entry.automatic]
    if automatic:
        Transaction.objects.filter(pk__in=automatic).delete()
    return {(e.holding_id, e.trade_date): e for e in found if not e.automatic}


def taken_text(symbol: str, entry: Transaction) -> str:
    shares = f"{entry.quantity.normalize():f}"
    return (
        f"A dividend of {symbol} on {entry.trade_date} is already recorded ({shares} x "
        f"{entry.price.normalize():f}): the ledger holds one dividend of a holding a day, so "
        "edit that one instead."
    )


def apply_dividends(dividend_ids: Sequence[int] = (), *, instrument_ids: Sequence[int] = ()) -> int:
    """Bring every holding of these instruments in line with their dividend history, each in
    its own transaction: those of `dividend_ids` (new or restated by a bars run) and
    `instrument_ids` (whose history was edited: a dividend changed or deleted). A holding whose
    ledger is contradicted by its split history is left as it was (the split update tells its
    owner). Returns the number of holdings recomputed."""
    from portfolios.services.recompute import recompute_instrument_holdings

    return recompute_instrument_holdings(
        set(Dividend.objects.filter(pk__in=dividend_ids).values_list("instrument_id", flat=True))
        | set(instrument_ids)
    )
