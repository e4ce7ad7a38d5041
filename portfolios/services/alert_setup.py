"""Setting up price alerts: created (at most ALERTS_PER_USER per account), edited, paused and
resumed. Each starts from today's price: one set while the price is already past its threshold
starts disarmed, and the user is told when it will fire."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction as db

from market import formatting
from market.models import Instrument
from portfolios.alert_rules import rearm_level, starts_armed
from portfolios.models import PriceAlert
from portfolios.services.alerts import current_price
from portfolios.services.limits import lock_owner


@dataclass(frozen=True)
class AlertSaved:
    alert: PriceAlert
    # Set when a price alert is already past its threshold: when it will fire.
    already: str = ""


def create_alert(
    *, owner, instrument: Instrument, condition: str, threshold: Decimal, active: bool = True
) -> AlertSaved:
    """A new alert of `owner`'s; ValidationError (code "too_many_alerts") past the cap."""
    limit = settings.ALERTS_PER_USER
    with db.atomic():
        lock_owner(owner.pk)
        if PriceAlert.objects.filter(owner=owner).count() >= limit:
            raise ValidationError(
                f"You have {limit} alerts, the most one account may have: delete one you no "
                "longer need first.",
                code="too_many_alerts",
            )
        alert = PriceAlert(owner=owner)
        return _save(alert, instrument, condition, threshold, active, start=True)


def update_alert(
    *, alert: PriceAlert, instrument: Instrument, condition: str, threshold: Decimal, active: bool
) -> AlertSaved:
    """Change an alert; a changed condition starts again from today's price."""
    changed = (alert.instrument_id, alert.condition, alert.threshold, alert.active) != (
        instrument.pk,
        condition,
        threshold,
        active,
    )
    return _save(alert, instrument, condition, threshold, active, start=changed)


def set_alert_active(*, alert: PriceAlert, active: bool) -> AlertSaved:
    """Pause or resume an alert; a resumed one starts from today's price, like a new one."""
    alert.active = active
    saved = _start(alert) if active else AlertSaved(alert)
    alert.save(update_fields=["active", "armed"])
    return saved


def _save(
    alert: PriceAlert,
    instrument: Instrument,
    condition: str,
    threshold: Decimal,
    active: bool,
    *,
    start: bool,
) -> AlertSaved:
    alert.instrument = instrument
    alert.condition = condition
    alert.threshold = threshold
    alert.active = active
    saved = _start(alert) if start else AlertSaved(alert)
    alert.save()
    return saved


def _start(alert: PriceAlert) -> AlertSaved:
    """Arm the alert from today's price; say when it will fire if the price is past it."""
    if alert.is_percent:
        alert.armed = True
        return AlertSaved(alert)
    above = alert.condition == PriceAlert.Condition.ABOVE
    price = current_price(alert.instrument)
    alert.armed = starts_armed(price, alert.threshold, above=above)
    if alert.armed:
        return AlertSaved(alert)
    return AlertSaved(alert, already_past_text(alert, price))


def already_past_text(alert: PriceAlert, price: Decimal) -> str:
    """ "BTC-USD is already above $43,923.00 (it trades at $44,100.00): this alert fires once
    the price has gone back to $43,483.77 or below, then reaches $43,923.00 again." """
    above = alert.condition == PriceAlert.Condition.ABOVE
    currency = alert.instrument.currency

    def money(value: Decimal) -> str:
        return formatting.unit_price(value, currency)

    percent = settings.ALERT_REARM_PERCENT
    level = rearm_level(alert.threshold, above=above, percent=percent)
    side = "at" if price == alert.threshold else "above" if above else "below"
    back = "below" if above else "above"
    return (
        f"{alert.instrument.symbol} is already {side} {money(alert.threshold)} (it trades at "
        f"{money(price)}): this alert fires once the price has gone back to {money(level)} or "
        f"{back}, then reaches {money(alert.threshold)} again."
    )
