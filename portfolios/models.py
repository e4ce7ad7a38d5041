"""What belongs to a user: watchlists, portfolios and their ledgers, alerts, notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from market.models import Instrument
from market.rules import NOTE_MAX_LENGTH

PRICE = {"max_digits": 20, "decimal_places": 8}


class Watchlist(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists"
    )
    name = models.CharField(max_length=80)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="watchlist_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["watchlist", "instrument"], name="instrument_once_per_watchlist"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} in {self.watchlist}"


class Portfolio(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolios"
    )
    name = models.CharField(max_length=80)
    base_currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="portfolio_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name


class Holding(models.Model):
    """Derived from the holding's transactions by portfolios.services; never edited by hand."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="holdings")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(default=0, **PRICE)
    average_cost = models.DecimalField(default=0, **PRICE)
    cost_basis = models.DecimalField(default=0, **PRICE)
    realized_pnl = models.DecimalField(default=0, **PRICE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "instrument"], name="holding_once_per_portfolio"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} in {self.portfolio}"


class Transaction(models.Model):
    class Kind(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"
        SPLIT = "split", "Split"

    holding = models.ForeignKey(Holding, on_delete=models.CASCADE, related_name="transactions")
    # The holding's portfolio, repeated so that "latest transactions of a portfolio" is one
    # index range scan rather than a sort of the whole ledger. Set by portfolios.services.
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="transactions", editable=False
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    trade_date = models.DateField()
    quantity = models.DecimalField(default=0, **PRICE)
    price = models.DecimalField(default=0, **PRICE)
    fee = models.DecimalField(default=0, **PRICE)
    split_ratio = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_date", "id"]
        indexes = [
            models.Index(fields=["holding", "trade_date"], name="txn_holding_date"),
            models.Index(fields=["portfolio", "-trade_date", "-id"], name="txn_portfolio_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="split") | (Q(quantity__gt=0) & Q(price__gte=0) & Q(fee__gte=0)),
                name="trade_amounts_positive",
            ),
            models.CheckConstraint(
                condition=~Q(kind="split") | Q(split_ratio__gt=0), name="split_has_ratio"
            ),
            # A split is applied to a ledger once: one split entry per holding per split date.
            models.UniqueConstraint(
                fields=["holding", "trade_date"],
                condition=Q(kind="split"),
                name="split_once_per_holding_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} on {self.trade_date}"

    @property
    def is_split(self) -> bool:
        return self.kind == self.Kind.SPLIT

    @property
    def net_amount(self):
        """Cash out for a buy (fees added), cash in for a sell (fees taken off)."""
        if self.kind == self.Kind.BUY:
            return self.price * self.quantity + self.fee
        if self.kind == self.Kind.SELL:
            return self.price * self.quantity - self.fee
        return 0


class PriceAlert(models.Model):
    class Condition(models.TextChoices):
        ABOVE = "above", "Price above"
        BELOW = "below", "Price below"
        DAY_MOVE = "day_move", "Day move at least (%)"
        PRE_MARKET_MOVE = "pre_move", "Pre-market move at least (%)"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    condition = models.CharField(max_length=10, choices=Condition.choices)
    threshold = models.DecimalField(**PRICE)
    active = models.BooleanField(default=True)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_triggered_session = models.DateField(null=True, blank=True)
    # The last price a price alert saw: it fires when the price crosses its threshold from here
    # (portfolios.alert_rules), not while the price stays past it.
    last_price = models.DecimalField(null=True, blank=True, **PRICE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instrument__symbol", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gt=0), name="alert_threshold_positive")
        ]
        indexes = [models.Index(fields=["active"], name="alert_active")]

    def __str__(self) -> str:
        return f"{self.instrument} {self.get_condition_display()} {self.threshold}"

    @property
    def is_percent(self) -> bool:
        return self.condition in {self.Condition.DAY_MOVE, self.Condition.PRE_MARKET_MOVE}


class Notification(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    text = models.CharField(max_length=300)
    link = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.text
