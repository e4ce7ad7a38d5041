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
    # The same two in the portfolio's currency (`base_currency`) at each trade date's FX close;
    # None while the rate has no daily history.
    base_currency = models.CharField(max_length=3, blank=True)
    cost_basis_base = models.DecimalField(null=True, blank=True, **PRICE)
    realized_pnl_base = models.DecimalField(null=True, blank=True, **PRICE)
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
        DIVIDEND = "dividend", "Dividend"
        FEE = "fee", "Fee"
        INTEREST = "interest", "Interest"
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"

    # Entries of the portfolio's cash rather than of a holding: no instrument, an `amount` in
    # the portfolio's base currency.
    CASH_KINDS = ("fee", "interest", "deposit", "withdrawal")

    # None for cash entries (CASH_KINDS).
    holding = models.ForeignKey(
        Holding, on_delete=models.CASCADE, related_name="transactions", null=True, blank=True
    )
    # The holding's portfolio, repeated so that "latest transactions of a portfolio" is one
    # index range scan rather than a sort of the whole ledger. Set by portfolios.services.
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="transactions", editable=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    trade_date = models.DateField()
    # A dividend: shares held (quantity), amount per share (price), tax withheld (fee).
    quantity = models.DecimalField(default=0, **PRICE)
    price = models.DecimalField(default=0, **PRICE)
    fee = models.DecimalField(default=0, **PRICE)
    amount = models.DecimalField(default=0, **PRICE)
    split_ratio = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    # Made by the ledger from the market's history (splits, dividends) rather than typed in; an
    # automatic dividend the user edits becomes theirs (False) and is left alone afterwards.
    automatic = models.BooleanField(default=False)
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
                condition=Q(kind="split")
                | (Q(kind__in=["fee", "interest", "deposit", "withdrawal"]) & Q(amount__gt=0))
                | (
                    Q(kind__in=["buy", "sell", "dividend"])
                    & Q(quantity__gt=0)
                    & Q(price__gte=0)
                    & Q(fee__gte=0)
                ),
                name="trade_amounts_positive",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["fee", "interest", "deposit", "withdrawal"])
                    & Q(holding__isnull=True)
                )
                | (
                    ~Q(kind__in=["fee", "interest", "deposit", "withdrawal"])
                    & Q(holding__isnull=False)
                ),
                name="cash_entries_have_no_holding",
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
            # Likewise a dividend: the automatic one, or the one the user recorded instead.
            models.UniqueConstraint(
                fields=["holding", "trade_date"],
                condition=Q(kind="dividend"),
                name="dividend_once_per_holding_day",
            ),
        ]

    def __str__(self) -> str:
        if self.is_cash:
            return f"{self.get_kind_display()} {self.amount} on {self.trade_date}"
        return f"{self.get_kind_display()} {self.quantity} on {self.trade_date}"

    @property
    def is_split(self) -> bool:
        return self.kind == self.Kind.SPLIT

    @property
    def is_cash(self) -> bool:
        return self.kind in self.CASH_KINDS

    @property
    def is_dividend(self) -> bool:
        return self.kind == self.Kind.DIVIDEND

    @property
    def net_amount(self):
        """Cash out for a buy (fees added), cash in for a sell or a dividend (fees or tax taken
        off), the amount of a cash entry."""
        if self.kind == self.Kind.BUY:
            return self.price * self.quantity + self.fee
        if self.kind in (self.Kind.SELL, self.Kind.DIVIDEND):
            return self.price * self.quantity - self.fee
        if self.is_cash:
            return self.amount
        return 0


class PortfolioDay(models.Model):
    """One day of a portfolio's value history, in its base currency at that day's FX close.

    Derived from the ledger and the daily bars by portfolios.performance.history, and rebuilt
    from the first day a ledger write touches; never edited by hand. `positions` keeps, per
    instrument id, [quantity on today's share basis, net cash put in (base), the same in the
    instrument's currency, close, FX rate], so a range's contribution reads two rows."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="days")
    date = models.DateField()
    market_value = models.DecimalField(max_digits=28, decimal_places=8)
    cash = models.DecimalField(max_digits=28, decimal_places=8)
    net_invested = models.DecimalField(max_digits=28, decimal_places=8)
    # Money in (+) or out (-) of the portfolio that day: deposits, withdrawals, and buys or
    # fees paid beyond the cash held (money brought in to pay them).
    flow = models.DecimalField(max_digits=28, decimal_places=8)
    # Interest less stand-alone fees, cumulative (income not tied to a holding).
    cash_income = models.DecimalField(max_digits=28, decimal_places=8)
    positions = models.JSONField(default=dict)

    class Meta:
        ordering = ["portfolio", "date"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "date"], name="portfolio_day_once")
        ]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.date}"

    @property
    def value(self):
        return self.market_value + self.cash


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
    # A price alert fires when the price reaches its threshold while it is armed; firing
    # disarms it until the price has gone back ALERT_REARM_PERCENT past the threshold
    # (portfolios.alert_rules). One set while the price is already past it starts disarmed.
    armed = models.BooleanField(default=True)
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

    @property
    def rearm_price(self):
        """The price a price alert that fired must go back to before it fires again."""
        from portfolios.alert_rules import rearm_level

        if self.is_percent:
            return None
        above = self.condition == self.Condition.ABOVE
        return rearm_level(self.threshold, above=above, percent=settings.ALERT_REARM_PERCENT)


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


class PendingImport(models.Model):
    """An uploaded CSV file waiting for its confirmation (one per portfolio), with the
    provider's answers for its ISINs and, for a file previewed by a task, the preview."""

    class State(models.TextChoices):
        CHECKING = "checking", "Checking"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_imports"
    )
    portfolio = models.OneToOneField(
        Portfolio, on_delete=models.CASCADE, related_name="pending_import"
    )
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    rows = models.PositiveIntegerField()
    # ISIN -> the listing the user picked; ISIN -> the provider's listings [[symbol, name,
    # exchange, kind], ...].
    listings = models.JSONField(default=dict)
    searched = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CHECKING)
    step = models.CharField(max_length=200, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # The task's preview (portfolios.csv_import.pending): written and read by our code only.
    preview = models.BinaryField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="pending_import_expiry")]

    def __str__(self) -> str:
        return f"{self.filename} for {self.portfolio_id}"


class UsageCount(models.Model):
    """How many times a user did something costly in one window of time (provider lookups in a
    minute, uploads in an hour): the budgets of portfolios.services.limits."""

    class Action(models.TextChoices):
        PROVIDER_LOOKUP = "lookup", "Provider lookup"
        IMPORT_UPLOAD = "upload", "Import upload"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "action", "window_start"], name="usage_once_per_window"
            )
        ]
        indexes = [models.Index(fields=["window_start"], name="usage_window")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.action} {self.window_start}: {self.count}"
