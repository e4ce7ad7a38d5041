"""Evaluating price alerts after a refresh, and the notifications (and emails) they create.

An evaluation reads only the alerts whose state changes, ALERT_EVALUATION_BATCH at a time, each
batch in a short transaction with a constant number of queries however many alerts there are:
one read of the alerts that fire or re-arm (with their instrument, quote and owner), one update
of the re-armed, one per distinct session day among those that fire (one or two: New York's
date, and UTC's for crypto) and one bulk insert of notifications.

A price alert (above, below) fires when the price reaches its threshold while it is armed, and
is armed again once the price has gone back ALERT_REARM_PERCENT past it (portfolios.alert_rules).
A move alert fires at most once per session day of its instrument: the day its price belongs
to, so a weekend refresh of Friday's close does not fire Friday's alert again, and a pre-market
move belongs to the day it trades before.
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
from django.db.models import Case, DecimalField, F, Q, Value, When
from django.db.models.functions import Abs
from django.urls import reverse
from django.utils import timezone

from config import versions
from market import formatting
from market.models import Instrument, MarketState, Quote
from market.rules import NEW_YORK
from portfolios.alert_rules import Crossing, step
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
    """Fire every active alert whose condition holds and that may fire (a price alert while it
    is armed, a move alert once per session day), and re-arm the price alerts whose price went
    back (only the alerts on `instrument_ids` when given: the live stream's instruments).

    The alerts are taken ALERT_EVALUATION_BATCH at a time, each batch in a transaction of its
    own that reads only the alerts whose state changes (the database compares each threshold
    with its quote), so no statement or transaction grows with the number of alerts. Creates one
    notification per firing and emails each owner once, listing their firings. Safe to run
    concurrently: alerts being evaluated elsewhere are skipped (PostgreSQL).
    """
    now = now or timezone.now()
    size = max(1, settings.ALERT_EVALUATION_BATCH)
    candidates = _candidates(now, instrument_ids)
    firings: list[Firing] = []
    after = 0
    while True:
        with db.atomic():
            batch = list(candidates.filter(pk__gt=after)[:size])
            if batch:
                firings += _apply(batch, now)
        if len(batch) < size:
            break
        after = batch[-1].pk
    _email_owners(firings)
    return firings


def _last_traded() -> Case:
    """The quote's latest traded price in SQL, as last_price() reads it in Python."""
    quote = "instrument__quote__"
    return Case(
        When(
            Q(
                **{
                    f"{quote}market_state": MarketState.PRE,
                    f"{quote}pre_market_price__isnull": False,
                }
            ),
            then=F(f"{quote}pre_market_price"),
        ),
        When(
            Q(
                **{
                    f"{quote}market_state": MarketState.POST,
                    f"{quote}post_market_price__isnull": False,
                }
            ),
            then=F(f"{quote}post_market_price"),
        ),
        default=F(f"{quote}price"),
        output_field=DecimalField(max_digits=20, decimal_places=8),
    )


def _candidates(now: datetime, instrument_ids: list[int] | None):
    """The active alerts whose state may change at their quote, oldest first, locked (skipping
    those another evaluation holds). The database compares loosely (a re-arm level a hair
    wide, for SQLite's floating-point decimals); `_apply` decides exactly."""
    # No session day is after today's UTC date: alerts that fired on it cannot fire again.
    latest_session = now.astimezone(UTC).date()
    percent = settings.ALERT_REARM_PERCENT / 100
    slack = Decimal("0.000001")
    field = DecimalField(max_digits=20, decimal_places=10)
    below_level = Value(1 - percent + slack, output_field=field)
    above_level = Value(1 + percent - slack, output_field=field)
    quote = "instrument__quote__"
    price_alerts = (
        Q(condition=Condition.ABOVE, armed=True, threshold__lte=F("last_traded"))
        | Q(condition=Condition.ABOVE, armed=False, last_traded__lte=F("threshold") * below_level)
        | Q(condition=Condition.BELOW, armed=True, threshold__gte=F("last_traded"))
        | Q(condition=Condition.BELOW, armed=False, last_traded__gte=F("threshold") * above_level)
    )
    day_move = Q(
        condition=Condition.DAY_MOVE, threshold__lte=Abs(F(f"{quote}change_percent"))
    ) & ~Q(**{f"{quote}market_state": MarketState.PRE})
    pre_move = Q(
        condition=Condition.PRE_MARKET_MOVE,
        threshold__lte=Abs(F(f"{quote}pre_market_change_percent")),
        **{f"{quote}market_state": MarketState.PRE},
    )
    not_fired_today = Q(last_triggered_session__isnull=True) | Q(
        last_triggered_session__lt=latest_session
    )
    alerts = PriceAlert.objects.select_for_update(skip_locked=True, of=("self",))
    if instrument_ids is not None:
        alerts = alerts.filter(instrument_id__in=instrument_ids)
    return (
        alerts.filter(active=True, instrument__quote__isnull=False)
        .annotate(last_traded=_last_traded())
        .filter(price_alerts | ((day_move | pre_move) & not_fired_today))
        .select_related("instrument__quote", "owner")
        .order_by("pk")
    )


def _apply(batch: list[PriceAlert], now: datetime) -> list[Firing]:
    """Fire and re-arm this batch's alerts (in the caller's transaction): one update of the
    re-armed, one per session day of the fired, one insert of their notifications."""
    percent = settings.ALERT_REARM_PERCENT
    firings, rearmed = [], []
    for alert in batch:
        quote = alert.instrument.quote
        if alert.condition in PRICE_CONDITIONS:
            price, _ = last_price(quote)
            above = alert.condition == Condition.ABOVE
            decision = step(alert.armed, price, alert.threshold, above=above, percent=percent)
            if decision is Crossing.REARM:
                rearmed.append(alert.pk)
            elif decision is Crossing.FIRE and (firing := check_alert(alert, quote)) is not None:
                firings.append(firing)
            continue
        firing = check_alert(alert, quote)
        if firing is None:
            continue
        if alert.last_triggered_session and alert.last_triggered_session >= firing.session:
            continue
        firings.append(firing)
    if rearmed:
        PriceAlert.objects.filter(pk__in=rearmed).update(armed=True)
    if not firings:
        return []
    by_session: dict[date, list[int]] = defaultdict(list)
    for firing in firings:
        by_session[firing.session].append(firing.alert.pk)
        firing.alert.last_triggered_at = now
        firing.alert.last_triggered_session = firing.session
        firing.alert.armed = False
    for session, ids in by_session.items():
        # A price alert that fires is disarmed; a move alert's `armed` is not used.
        PriceAlert.objects.filter(pk__in=ids).update(
            last_triggered_at=now, last_triggered_session=session, armed=False
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
    versions.user_changed(*{f.alert.owner_id for f in firings})
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
                "A price alert fires when the price reaches its threshold, and again only after "
                f"the price has gone back {settings.ALERT_REARM_PERCENT.normalize():f}% past it; "
                "a move alert at most once per trading day. Manage them on the Alerts page: "
                f"{settings.SITE_URL.rstrip('/')}{reverse('portfolios:alerts')}",
            ]
        )
        try:
            send_mail(subject, body, None, [owner.email])
        except Exception:  # SMTP errors of every kind: the notification already exists
            log.exception("could not email alerts to user %s", owner.pk)


def _is_simulated(firing: Firing) -> bool:
    return getattr(firing.alert.instrument.quote, "source", "") == "simulated"
