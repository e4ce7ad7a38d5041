"""Writes of market data: refreshes of quotes, profiles and daily bars, pruning, new instruments.

Every refresh records a RefreshRun. Only one run of a kind is `running` at a time (the partial
unique constraint `one_running_refresh_per_kind` is the lock); a run whose heartbeat is older
than its kind's stale timeout belongs to a crashed worker and is marked failed by the next one.

Writes are bulk upserts on the unique keys, so a refresh of N instruments issues the same
statements whatever N is (for quotes: one upsert of quotes, one of snapshots). Numbers are
cleaned once, where the provider builds its dataclasses (market/providers/base.py): a price
that is missing, NaN, infinite, zero or negative becomes a per-symbol error there, so it is
never stored and that symbol keeps its last good quote.
"""

from market.services.bars import (
    BAR_BATCH_SIZE,
    BAR_UPDATE_FIELDS,
    BARS_CHUNK,
    BARS_OVERLAP_DAYS,
    MISSING_BARS_RETRY_AFTER,
    backfill_bars,
    backfill_missing_bars,
    update_bars,
)
from market.services.delisting import note_symbol_answers, reactivate_instruments
from market.services.instruments import (
    add_instrument,
    look_up_instrument,
    save_new_instrument,
)
from market.services.maintenance import PruneResult, prune_snapshots
from market.services.profiles import PROFILE_CHUNK, PROFILE_MAX_AGE, apply_profile, refresh_profiles
from market.services.quotes import (
    QUOTE_UPDATE_FIELDS,
    SNAPSHOT_UPDATE_FIELDS,
    market_cap_basis,
    quote_is_due,
    refresh_quotes,
)
from market.services.runs import (
    LEASE,
    Progress,
    Refresh,
    claim_run,
    describe_error,
    errors_summary,
    finish_run,
    note_provider_failure,
    note_provider_success,
    note_rate_limit,
    provider_cooldown,
    refresh_run,
    run_outcome,
)
from market.services.values import (
    CENTS,
    EIGHT_PLACES,
    FOUR_PLACES,
    MONEY_LIMIT,
    PERCENT_LIMIT,
    PRICE_LIMIT,
    change_or_none,
    decimal_or_none,
)

__all__ = [
    "BARS_CHUNK",
    "BARS_OVERLAP_DAYS",
    "BAR_BATCH_SIZE",
    "BAR_UPDATE_FIELDS",
    "CENTS",
    "EIGHT_PLACES",
    "FOUR_PLACES",
    "MISSING_BARS_RETRY_AFTER",
    "MONEY_LIMIT",
    "PERCENT_LIMIT",
    "PRICE_LIMIT",
    "PROFILE_CHUNK",
    "PROFILE_MAX_AGE",
    "Progress",
    "PruneResult",
    "Refresh",
    "QUOTE_UPDATE_FIELDS",
    "note_symbol_answers",
    "reactivate_instruments",
    "SNAPSHOT_UPDATE_FIELDS",
    "market_cap_basis",
    "LEASE",
    "add_instrument",
    "look_up_instrument",
    "save_new_instrument",
    "apply_profile",
    "backfill_bars",
    "backfill_missing_bars",
    "change_or_none",
    "claim_run",
    "decimal_or_none",
    "describe_error",
    "errors_summary",
    "finish_run",
    "note_provider_failure",
    "note_provider_success",
    "note_rate_limit",
    "provider_cooldown",
    "prune_snapshots",
    "quote_is_due",
    "refresh_profiles",
    "refresh_quotes",
    "refresh_run",
    "run_outcome",
    "update_bars",
]
