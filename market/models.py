"""What is priced and how prices arrive: instruments, miner facts, quotes, snapshots, bars, runs."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

PRICE = {"max_digits": 20, "decimal_places": 8}
# Daily bars at the precision Yahoo's chart carries (market.providers.base.BAR_PLACES).
BAR_PRICE = {"max_digits": 20, "decimal_places": 6}
MONEY_BIG = {"max_digits": 24, "decimal_places": 2}

as_of_validator = RegexValidator(
    r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$", "Use YYYY-MM-DD or YYYY-MM."
)


class Instrument(models.Model):
    class Kind(models.TextChoices):
        EQUITY = "equity", "Equity"
        ETF = "etf", "ETF"
        CRYPTO = "crypto", "Crypto"
        INDEX = "index", "Index"
        FX = "fx", "FX rate"

    symbol = models.CharField(max_length=20, unique=True, help_text="Provider symbol, e.g. IREN")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EQUITY)
    exchange = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    is_active = models.BooleanField(default=True)
    # A symbol the provider stops knowing (Yahoo's 404 "symbol may be delisted") is made
    # inactive after settings.DELIST_AFTER_FAILURES failures in a row; it keeps its data.
    failure_count = models.PositiveIntegerField(
        default=0, help_text="Refreshes in a row in which the provider did not know the symbol."
    )
    last_failure = models.CharField(max_length=200, blank=True)
    deactivated_at = models.DateTimeField(
        null=True, blank=True, help_text="When refreshes stopped asking for it (unknown symbol)."
    )
    is_benchmark = models.BooleanField(
        default=False, help_text="A reference series (BTC-USD, NVDA, …), not part of the sector."
    )
    # From the provider's profile, refreshed at most daily.
    shares_outstanding = models.BigIntegerField(null=True, blank=True)
    enterprise_value = models.DecimalField(null=True, blank=True, **MONEY_BIG)
    profile_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Who added it from a watchlist, portfolio or alert (blank for the universe): each user may
    # add a limited number (settings.INSTRUMENTS_ADDED_PER_USER).
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Miner(models.Model):
    class Segment(models.TextChoices):
        MINER = "miner", "Pure miner"
        PIVOT = "pivot", "Pivot to AI/HPC"
        AI_HPC = "ai_hpc", "AI/HPC"
        HARDWARE = "hardware", "Hardware"

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, related_name="miner")
    segment = models.CharField(max_length=10, choices=Segment.choices)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code of the HQ")
    listing = models.CharField(max_length=60, blank=True)
    hashrate_eh = models.DecimalField(
        "hashrate (EH/s)", max_digits=10, decimal_places=3, null=True, blank=True
    )
    hashrate_as_of = models.CharField(max_length=10, blank=True, validators=[as_of_validator])
    power_mw = models.DecimalField(
        "power (MW)", max_digits=10, decimal_places=1, null=True, blank=True
    )
    power_kind = models.CharField(max_length=80, blank=True)
    power_as_of = models.CharField(max_length=10, blank=True, validators=[as_of_validator])
    hpc_contracted_mw = models.DecimalField(
        "HPC contracted (MW)", max_digits=10, decimal_places=1, null=True, blank=True
    )
    hpc_counterparties = models.CharField(max_length=200, blank=True)
    hpc_as_of = models.CharField(max_length=10, blank=True, validators=[as_of_validator])
    notes = models.TextField(blank=True)
    sources = models.TextField(blank=True, help_text="One URL per line")

    class Meta:
        ordering = ["instrument__symbol"]

    def __str__(self) -> str:
        return f"{self.instrument.symbol} ({self.get_segment_display()})"

    @property
    def source_urls(self) -> list[str]:
        return [line.strip() for line in self.sources.splitlines() if line.strip()]


class MarketState(models.TextChoices):
    PRE = "pre", "Pre-market"
    REGULAR = "regular", "Open"
    POST = "post", "After hours"
    CLOSED = "closed", "Closed"


class Feed(models.TextChoices):
    """The path a quote arrived by."""

    BATCH = "batch", "Batch refresh"
    STREAM = "stream", "Live stream"


class Quote(models.Model):
    """The latest quote of an instrument: one row per instrument, upserted by each refresh and
    by the live stream (`feed` says which wrote it last)."""

    class CapSource(models.TextChoices):
        PROVIDER = "provider", "Provider's market cap"
        SHARES = "shares", "Price × shares outstanding"

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, related_name="quote")
    price = models.DecimalField(**PRICE)
    previous_close = models.DecimalField(null=True, blank=True, **PRICE)
    change = models.DecimalField(null=True, blank=True, **PRICE)
    change_percent = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    market_state = models.CharField(
        max_length=10, choices=MarketState.choices, default=MarketState.CLOSED
    )
    pre_market_price = models.DecimalField(null=True, blank=True, **PRICE)
    pre_market_change = models.DecimalField(null=True, blank=True, **PRICE)
    pre_market_change_percent = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    post_market_price = models.DecimalField(null=True, blank=True, **PRICE)
    post_market_change = models.DecimalField(null=True, blank=True, **PRICE)
    post_market_change_percent = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    day_high = models.DecimalField(null=True, blank=True, **PRICE)
    day_low = models.DecimalField(null=True, blank=True, **PRICE)
    volume = models.BigIntegerField(null=True, blank=True)
    shares_outstanding = models.BigIntegerField(null=True, blank=True)
    market_cap = models.DecimalField(null=True, blank=True, **MONEY_BIG)
    market_cap_source = models.CharField(max_length=10, choices=CapSource.choices, blank=True)
    # The shares `market_cap` is priced on: provider's cap / price, or shares outstanding. Pre-
    # and post-market caps are these shares at the extended-hours price.
    market_cap_shares = models.DecimalField(max_digits=24, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    provider_time = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField()
    source = models.CharField(max_length=20, default="yahoo")
    feed = models.CharField(max_length=10, choices=Feed.choices, default=Feed.BATCH)

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.price}"


# A quote's data fields, named once: a batch refresh writes them all and pages read them all.
QUOTE_FIELDS = tuple(
    field.name for field in Quote._meta.concrete_fields if field.name not in ("id", "instrument")
)
# What a price-stream tick writes: everything but what only a batch quote carries (the share
# count and how the cap was found, the currency and the provider's name).
STREAMED_QUOTE_FIELDS = tuple(
    name
    for name in QUOTE_FIELDS
    if name
    not in {
        "shares_outstanding",
        "market_cap_source",
        "market_cap_shares",
        "currency",
        "source",
    }
)


class PriceSnapshot(models.Model):
    """One row per instrument per refresh run; sector totals over time sum one `taken_at`."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    price = models.DecimalField(**PRICE)
    market_state = models.CharField(max_length=10, choices=MarketState.choices)
    volume = models.BigIntegerField(null=True, blank=True)
    market_cap = models.DecimalField(null=True, blank=True, **MONEY_BIG)
    source = models.CharField(max_length=20, default="yahoo")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "taken_at"], name="snapshot_once_per_run")
        ]
        indexes = [models.Index(fields=["taken_at"], name="snapshot_taken_at")]


class DailyBar(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="bars")
    date = models.DateField()
    open = models.DecimalField(null=True, blank=True, **BAR_PRICE)
    high = models.DecimalField(null=True, blank=True, **BAR_PRICE)
    low = models.DecimalField(null=True, blank=True, **BAR_PRICE)
    close = models.DecimalField(**BAR_PRICE)
    adj_close = models.DecimalField(**BAR_PRICE)
    volume = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, default="yahoo")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "date"], name="bar_once_per_day")
        ]
        ordering = ["instrument", "date"]


class SplitEvent(models.Model):
    """A stock split as the daily history reports it; the ledger applies it to holdings."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="splits")
    date = models.DateField()
    ratio = models.DecimalField(
        max_digits=20, decimal_places=10, help_text="New shares per old share (0.1 = 1-for-10)"
    )
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "date"], name="split_once_per_day")
        ]
        ordering = ["instrument", "date"]


class Dividend(models.Model):
    """A cash dividend per share from the provider's daily history, on its ex-date."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="dividends")
    ex_date = models.DateField()
    amount = models.DecimalField(**PRICE)
    currency = models.CharField(max_length=3)
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument", "ex_date"], name="dividend_once_per_day")
        ]
        ordering = ["instrument", "ex_date"]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.ex_date} {self.amount} {self.currency}"


class RefreshRun(models.Model):
    """An audit trail of refreshes, the staleness signal for pages, and the overlap guard."""

    class Kind(models.TextChoices):
        QUOTES = "quotes", "Quotes"
        PROFILES = "profiles", "Profiles"
        BARS = "bars", "Daily bars"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    provider = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    # A long run (a backfill) touches this as it goes; a running row whose heartbeat is old
    # belongs to a crashed worker and no longer blocks the next run.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    requested_count = models.PositiveIntegerField(default=0)
    stored_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    error_text = models.TextField(blank=True)
    errors = models.JSONField(default=dict, blank=True, help_text="Per-symbol errors")
    details = models.JSONField(
        default=dict, blank=True, help_text="Other counts: snapshots, bars, new splits, …"
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="running"), name="one_running_refresh_per_kind"
            )
        ]
        indexes = [models.Index(fields=["kind", "-started_at"], name="refreshrun_kind_started")]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} {self.started_at:%Y-%m-%d %H:%M}"
