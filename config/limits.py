"""Per-user limits: every cost one account can put on the site has a cap, read from the
environment (config/settings.py imports them). The README's "Deploying safely" lists them."""

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "ALERTS_PER_USER",
    "ALERT_EVALUATION_BATCH",
    "ALERT_REARM_PERCENT",
    "ALERT_STREAM_EVALUATION_SECONDS",
    "CSV_IMPORTS_PER_HOUR",
    "CSV_IMPORT_INLINE_ROWS",
    "CSV_IMPORT_MAX_ROWS",
    "PENDING_IMPORTS_PER_USER",
    "PENDING_IMPORT_MINUTES",
    "PORTFOLIOS_PER_USER",
    "PROVIDER_ANSWER_CACHE_SECONDS",
    "PROVIDER_LOOKUPS_PER_MINUTE",
]


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _percent(name: str, default: str) -> Decimal:
    text = os.environ.get(name, "").strip() or default
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 <= value < 100:
        raise ImproperlyConfigured(f"{name}={text!r}: a percentage from 0 to under 100")
    return value


# Price alerts one account may have (paused ones count).
ALERTS_PER_USER = _int("ALERTS_PER_USER", 100)
# A price alert that fired fires again only after the price has gone back this many percent
# past its threshold (hysteresis): a price hovering around it sends one notification, not many.
ALERT_REARM_PERCENT = _percent("ALERT_REARM_PERCENT", "1")
# Alerts are evaluated this many at a time, each batch in its own short transaction.
ALERT_EVALUATION_BATCH = _int("ALERT_EVALUATION_BATCH", 500)
# The live stream's instruments are evaluated by a Celery task queued at most this often.
ALERT_STREAM_EVALUATION_SECONDS = float(os.environ.get("ALERT_STREAM_EVALUATION_SECONDS", "1"))
# Portfolios one account may have.
PORTFOLIOS_PER_USER = _int("PORTFOLIOS_PER_USER", 20)
# Rows (lines after the header) one CSV import may have.
CSV_IMPORT_MAX_ROWS = _int("CSV_IMPORT_MAX_ROWS", 10_000)
# A file of more rows than this is previewed by a Celery task, its page showing the progress.
CSV_IMPORT_INLINE_ROWS = _int("CSV_IMPORT_INLINE_ROWS", 500)
# Files one account may upload for import per hour.
CSV_IMPORTS_PER_HOUR = _int("CSV_IMPORTS_PER_HOUR", 30)
# Uploads waiting for their confirmation, per account (one per portfolio at most).
PENDING_IMPORTS_PER_USER = _int("PENDING_IMPORTS_PER_USER", 3)
# How long an upload waits for its confirmation before the clean-up task deletes it.
PENDING_IMPORT_MINUTES = _int("PENDING_IMPORT_MINUTES", 60)
# Lookups with the market-data provider (symbol and ISIN searches, new symbols) one account may
# cause per minute; answers already known come from the cache and cost nothing.
PROVIDER_LOOKUPS_PER_MINUTE = _int("PROVIDER_LOOKUPS_PER_MINUTE", 60)
# How long the provider's answer to a search (an ISIN, a watchlist query) is kept.
PROVIDER_ANSWER_CACHE_SECONDS = _int("PROVIDER_ANSWER_CACHE_SECONDS", 86_400)
