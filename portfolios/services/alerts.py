"""Evaluating price alerts after a refresh, and the notifications (and emails) they create.

One evaluation costs a constant number of queries however many alerts there are: one read of
every active alert that may fire (with its instrument, quote and owner), one update per distinct
session day among those that fire (one or two: New York's date, and UTC's for crypto), one
update of the prices the price alerts saw and one bulk insert of notifications.

A price alert (above, below) fires when the price crosses its threshold, and re-arms when the
price goes back (portfolios.alert_rules). A move alert fires at most once per session day of its
instrument: the day its price belongs to, so a weekend refresh of Friday's close does not fire
Friday's alert again, and a pre-market move belongs to the day it trades before.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction as db
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from config import versions
from market import formatting
from market.models import Instrument, MarketState, Quote
from market.rules import NEW_YORK
from portfolios.alert_rules import Crossing, crossing
from portfolios.models import Notification, PriceAlert

log = logging.getLogger(__name__)

Condition = PriceAlert.Condition
PRICE_CONDITIONS = (Condition.ABOVE, Condition.BELOW)


@dataclass(frozen=True)
class Firing:
    alert: PriceAlert
    session: date
    text: str


def _market_date(moment: datetime, kind: str) -> date:
    if kind == Instrument.Kind.CRYPTO:
        return moment.astimezone(UTC).date()
    return moment.astimezone(NEW_YORK).date()


def _money(value: Decimal, currency: str) -> str:
    return formatting.unit_price(value, currency)


def _percent(value: Decimal) -> str:
    return formatting.percent(value)


def last_price(quote: Quote) -> tuple[Decimal, str]:
    """The latest traded price and where it traded: pre-market, after hours, or the session."""
    if quote.market_state == MarketState.PRE and quote.pre_market_price is not None:
        return quote.pre_market_price, "in pre-market"
    if quote.market_state == MarketState.POST and quote.post_market_price is not None:
        return quote.post_market_price, "after hours"
    return quote.price, ""


def current_price(instrument: Instrument) -> Decimal | None:
    """The price a price alert on the instrument starts from: its latest traded price."""
    quote = Quote.objects.filter(instrument=instrument).first()
    return last_price(quote)[0] if quote is not None else None


def check_alert(alert: PriceAlert, quote: Quote) -> Firing | None:
    """Whether the alert's condition holds on this quote, with the session day it belongs to."""
    instrument = alert.instrument
    kind = instrument.kind
    regular_moment = quote.provider_time or quote.fetched_at
    symbol = instrument.symbol
    currency = quote.currency or instrument.currency
    threshold = alert.threshold
    if alert.condition in (Condition.ABOVE, Condition.BELOW):
        price, where = last_price(quote)
        above = alert.condition == Condition.ABOVE
        if (above and price < threshold) or (not above and price > threshold):
            return None
        moment = (
            quote.fetched_at if quote.market_state == MarketState.PRE and where else regular_moment
        )
        text = (
            f"{symbol} traded at {_money(price, currency)}{' ' + where if where else ''}, "
            f"{'above' if above else 'below'} your {_money(threshold, currency)} alert."
        )
        return Firing(alert, _market_date(moment, kind), text)
    if alert.condition == Condition.DAY_MOVE:
        move = quote.change_percent
        # Before the open, the day change is still the previous session's: not a move of today.
        if move is None or quote.market_state == MarketState.PRE or abs(move) < threshold:
            return None
        text = (
            f"{symbol} {'rose' if move > 0 else 'fell'} {_percent(move)} on the day "
            f"to {_money(quote.price, currency)} (your alert: a move of {threshold.normalize():f}% "
            "or more)."
        )
        return Firing(alert, _market_date(regular_moment, kind), text)
    if alert.condition == Condition.PRE_MARKET_MOVE:
        move = quote.pre_market_change_percent
        if quote.market_state != MarketState.PRE or move is None or abs(move) < threshold:
            return None
        price = quote.pre_market_price
        text = (
            f"{symbol} is {'up' if move > 0 else 'down'} {_percent(move)} in pre-market"
            f"{' at ' + _money(price, currency) if price is not None else ''} (your alert: "
            f"a move of {threshold.normalize():f}% or more)."
        )
        return Firing(alert, _market_date(quote.fetched_at, kind), text)
    return None


def evaluate_alerts(
    *, now: datetime | None = None, instrument_ids: list[int] | None = None
) -> list[Firing]:
    """Fire every active alert whose condition holds and that has not fired this session day
    (only the alerts on `instrument_ids` when given: the live stream's ticks).

    Creates one notification per firing and emails each owner once, listing their firings.
    Safe to run concurrently: alerts being evaluated elsewhere are skipped (PostgreSQL).
    """
    now = now or timezone.now()
    # No session day is after today's UTC date: alerts that fired on it cannot fire again.
    latest_session = now.astimezone(UTC).date()
    alerts = PriceAlert.objects.select_for_update(skip_locked=True, of=("self",))
    if instrument_ids is not None:
        alerts = alerts.filter(instrument_id__in=instrument_ids)
    with db.atomic():
        candidates = list(
            alerts.filter(active=True, instrument__quote__isnull=False)
            .filter(
                Q(condition__in=PRICE_CONDITIONS)
                | Q(last_triggered_session__isnull=True)
                | Q(last_triggered_session__lt=latest_session)
            )
            .select_related("instrument__quote", "owner")
            .order_by("pk")
        )
        firings = []
        moved = []
        for alert in candidates:
            quote = alert.instrument.quote
            if alert.condition in PRICE_CONDITIONS:
                price, _ = last_price(quote)
                decision = crossing(
                    alert.last_price,
                    price,
                    alert.threshold,
                    above=alert.condition == Condition.ABOVE,
                )
                if alert.last_price != price:
                    alert.last_price = price
                    moved.append(alert)
                firing = check_alert(alert, quote) if decision is Crossing.FIRE else None
                if firing is not None:
                    firings.append(firing)
                continue
            firing = check_alert(alert, quote)
            if firing is None:
                continue
            if alert.last_triggered_session and alert.last_triggered_session >= firing.session:
                continue
            firings.append(firing)
        if moved:
            PriceAlert.objects.bulk_update(moved, ["last_price"])
        if not firings:
            return []
        by_session: dict[date, list[int]] = defaultdict(list)
        for firing in firings:
            by_session[firing.session].append(firing.alert.pk)
            firing.alert.last_triggered_at = now
            firing.alert.last_triggered_session = firing.session
        for session, ids in by_session.items():
            PriceAlert.objects.filter(pk__in=ids).update(
                last_triggered_at=now, last_triggered_session=session
            )
        Notification.objects.bulk_create(
            [
                Notification(
                    owner_id=f.alert.owner_id,
                    text=f.text[:300],
                    link=reverse("market:miner", args=[f.alert.instrument.symbol]),
                )
                for f in firings
            ]
        )
        versions.user_changed(*(f.alert.owner_id for f in firings))
    _email_owners(firings)
    return firings


def _email_owners(firings: list[Firing]) -> None:
    """One email per owner with their firings; a mail failure is logged, never raised (the
    notifications are already committed and the next run must not fire them again)."""
    by_owner: dict[int, list[Firing]] = defaultdict(list)
    for firing in firings:
        by_owner[firing.alert.owner_id].append(firing)
    for owner_firings in by_owner.values():
        owner = owner_firings[0].alert.owner
        if not owner.email:
            continue
        simulated = any(_is_simulated(f) for f in owner_firings)
        label = "[simulated] " if simulated else ""
        if len(owner_firings) == 1:
            subject = f"{label}Minerwatch alert: {owner_firings[0].alert.instrument.symbol}"
        else:
            subject = f"{label}Minerwatch: {len(owner_firings)} alerts"
        lines = []
        for f in owner_firings:
            symbol = f.alert.instrument.symbol
            link = settings.SITE_URL.rstrip("/") + reverse("market:miner", args=[symbol])
            tag = " (simulated price, not market data)" if _is_simulated(f) else ""
            lines += [f"- {f.text}{tag}", f"  {link}"]
        body = "\n".join(
            [
                "Your Minerwatch alerts fired:",
                "",
                *lines,
                "",
                *(
                    [
                        "These prices come from the simulated provider: a demo, not market data.",
                        "",
                    ]
                    if simulated
                    else []
                ),
                "A price alert fires when the price crosses its threshold and again after the "
                "price has gone back; a move alert at most once per trading day. Manage them on "
                f"the Alerts page: {settings.SITE_URL.rstrip('/')}{reverse('portfolios:alerts')}",
            ]
        )
        try:
            send_mail(subject, body, None, [owner.email])
        except Exception:  # SMTP errors of every kind: the notification already exists
            log.exception("could not email alerts to user %s", owner.pk)


def _is_simulated(firing: Firing) -> bool:
    return getattr(firing.alert.instrument.quote, "source", "") == "simulated"
