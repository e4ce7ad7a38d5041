"""Creating, naming, ordering and deleting watchlists and portfolios, and a watchlist's items."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db import transaction as db
from django.db.models import Max

from config.inputs import has_control_characters
from market.models import Instrument
from portfolios.models import Portfolio, Watchlist, WatchlistItem
from portfolios.services.instruments import ensure_fx_instruments, fx_symbol
from portfolios.services.limits import lock_owner

CURRENCIES = [
    ("USD", "US dollar"),
    ("CAD", "Canadian dollar"),
    ("EUR", "Euro"),
    ("GBP", "British pound"),
    ("AUD", "Australian dollar"),
    ("CHF", "Swiss franc"),
    ("JPY", "Japanese yen"),
    ("SEK", "Swedish krona"),
    ("NOK", "Norwegian krone"),
    ("HKD", "Hong Kong dollar"),
    ("SGD", "Singapore dollar"),
]
UP, DOWN = "up", "down"


def _move(siblings: list, target, direction: str) -> bool:
    """Swap `target` with its neighbour in `siblings` (already in display order) and renumber
    positions 0..n-1. False when it is already at that end."""
    index = next(i for i, item in enumerate(siblings) if item.pk == target.pk)
    other = index - 1 if direction == UP else index + 1
    if other < 0 or other >= len(siblings):
        return False
    siblings[index], siblings[other] = siblings[other], siblings[index]
    changed = []
    for position, item in enumerate(siblings):
        if item.position != position:
            item.position = position
            changed.append(item)
    type(target).objects.bulk_update(changed, ["position"])
    return True


def _name_taken(message: str) -> ValidationError:
    return ValidationError({"name": [message]}, code="duplicate")


def _clean_name(name: str, model) -> str:
    """The name stripped, or ValidationError: every caller (forms, the miner page's "new
    watchlist" box) gets the same bounds before anything reaches the database."""
    name = (name or "").strip()
    limit = model._meta.get_field("name").max_length
    if not name:
        problem = "Enter a name."
    elif len(name) > limit:
        problem = f"Keep the name to {limit} characters (it has {len(name)})."
    elif has_control_characters(name):
        problem = "Remove the control characters from the name."
    else:
        return name
    raise ValidationError({"name": [problem]}, code="invalid")


# -- watchlists -------------------------------------------------------------------------------


def create_watchlist(*, owner, name: str) -> Watchlist:
    name = _clean_name(name, Watchlist)
    try:
        with db.atomic():
            last = owner.watchlists.aggregate(last=Max("position"))["last"]
            return Watchlist.objects.create(
                owner=owner, name=name, position=0 if last is None else last + 1
            )
    except IntegrityError:
        raise _name_taken(f"You already have a watchlist called “{name}”.") from None


def rename_watchlist(*, watchlist: Watchlist, name: str) -> Watchlist:
    watchlist.name = _clean_name(name, Watchlist)
    try:
        with db.atomic():
            watchlist.save(update_fields=["name"])
    except IntegrityError:
        raise _name_taken(f"You already have a watchlist called “{watchlist.name}”.") from None
    return watchlist


def delete_watchlist(*, watchlist: Watchlist) -> None:
    watchlist.delete()


def move_watchlist(*, watchlist: Watchlist, direction: str) -> bool:
    with db.atomic():
        siblings = list(
            Watchlist.objects.select_for_update(of=("self",)).filter(owner_id=watchlist.owner_id)
        )
        return _move(siblings, watchlist, direction)


def add_watchlist_item(
    *, watchlist: Watchlist, instrument: Instrument, note: str = ""
) -> WatchlistItem:
    """Add an instrument at the end of the watchlist; refuse one that is already on it."""
    try:
        with db.atomic():
            last = watchlist.items.aggregate(last=Max("position"))["last"]
            return WatchlistItem.objects.create(
                watchlist=watchlist,
                instrument=instrument,
                note=note.strip(),
                position=0 if last is None else last + 1,
            )
    except IntegrityError:
        raise ValidationError(
            {"symbol": [f"{instrument.symbol} is already on {watchlist.name}."]}, code="duplicate"
        ) from None


def remove_watchlist_item(*, item: WatchlistItem) -> None:
    item.delete()


def move_watchlist_item(*, item: WatchlistItem, direction: str) -> bool:
    with db.atomic():
        siblings = list(
            WatchlistItem.objects.select_for_update(of=("self",)).filter(
                watchlist_id=item.watchlist_id
            )
        )
        return _move(siblings, item, direction)


def set_watchlist_item_note(*, item: WatchlistItem, note: str) -> WatchlistItem:
    item.note = note.strip()
    item.save(update_fields=["note"])
    return item


# -- portfolios -------------------------------------------------------------------------------


def _fetch_rates_now(pairs: set[tuple[str, str]]) -> None:
    """Create the FX-rate instruments of these pairs and quote them once this commits."""
    pairs = {(a, b) for a, b in pairs if a and b and a != b}
    if not pairs:
        return
    ensure_fx_instruments(pairs)
    from portfolios.tasks import fetch_fx_rates

    symbols = sorted(fx_symbol(a, b) for a, b in pairs)
    db.on_commit(lambda: fetch_fx_rates.delay(symbols))


def create_portfolio(*, owner, name: str, base_currency: str = "USD") -> Portfolio:
    """A new portfolio (at most PORTFOLIOS_PER_USER per account); in a currency other than USD
    (the universe's), the USD rate into it is fetched at once."""
    name = _clean_name(name, Portfolio)
    limit = settings.PORTFOLIOS_PER_USER
    try:
        with db.atomic():
            lock_owner(owner.pk)  # the count and the insert of one user take turns
            if Portfolio.objects.filter(owner=owner).count() >= limit:
                raise ValidationError(
                    f"You have {limit} portfolios, the most one account may have: delete one "
                    "you no longer need first.",
                    code="too_many_portfolios",
                )
            portfolio = Portfolio.objects.create(
                owner=owner, name=name, base_currency=base_currency
            )
            _fetch_rates_now({("USD", base_currency)})
            return portfolio
    except IntegrityError:
        raise _name_taken(f"You already have a portfolio called “{name}”.") from None


def update_portfolio(*, portfolio: Portfolio, name: str, base_currency: str) -> Portfolio:
    from portfolios.services.transactions import recompute_holding

    portfolio.name = _clean_name(name, Portfolio)
    new_currency = base_currency != portfolio.base_currency
    portfolio.base_currency = base_currency
    try:
        with db.atomic():
            portfolio.save(update_fields=["name", "base_currency"])
            currencies = set(
                portfolio.holdings.values_list("instrument__currency", flat=True).distinct()
            )
            _fetch_rates_now({(c, base_currency) for c in currencies | {"USD"}})
            if new_currency:  # the value history and trade-date FX figures are in the old one
                portfolio.days.all().delete()
                for holding in portfolio.holdings.all():
                    recompute_holding(holding)
    except IntegrityError:
        raise _name_taken(f"You already have a portfolio called “{portfolio.name}”.") from None
    return portfolio


def delete_portfolio(*, portfolio: Portfolio) -> None:
    portfolio.delete()
