"""Symbols the provider stops knowing: counted, made inactive, reactivated.

Yahoo answers a delisted symbol's history with HTTP 404 "No data found, symbol may be delisted",
for weeks. Each bars run counts, per instrument, the runs in a row in which the provider did not
know the symbol; at settings.DELIST_AFTER_FAILURES the instrument is made inactive (refreshes
stop asking for it) and keeps its quote, bars and splits. An answer resets the count.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When

from config import versions
from market.models import Instrument

LAST_FAILURE_LENGTH = Instrument._meta.get_field("last_failure").max_length


def note_symbol_answers(
    answered: Collection[int], unknown: Mapping[int, str], *, now: datetime
) -> list[str]:
    """Reset the count of the instruments the provider answered for, add one to those it did
    not know (`unknown`: id -> why), and make inactive those that reached the limit; the symbols
    made inactive. At most four statements, whatever the number of instruments."""
    unknown = {pk: reason for pk, reason in unknown.items() if pk not in answered}
    with transaction.atomic():
        if answered:
            Instrument.objects.filter(pk__in=answered, failure_count__gt=0).update(
                failure_count=0, last_failure=""
            )
        if not unknown:
            return []
        reasons = [
            When(pk=pk, then=Value(reason[:LAST_FAILURE_LENGTH])) for pk, reason in unknown.items()
        ]
        Instrument.objects.filter(pk__in=unknown).update(
            failure_count=F("failure_count") + 1, last_failure=Case(*reasons)
        )
        reached = Instrument.objects.filter(
            pk__in=unknown, is_active=True, failure_count__gte=settings.DELIST_AFTER_FAILURES
        )
        symbols = sorted(reached.values_list("symbol", flat=True))
        if symbols:
            reached.update(is_active=False, deactivated_at=now)
    return symbols


def reactivate_instruments(*, instrument_ids: Collection[int]) -> int:
    """Make instruments active again with a fresh count (an admin's decision that the symbol is
    traded again, or was renamed back); how many were inactive."""
    with transaction.atomic():
        count = Instrument.objects.filter(pk__in=instrument_ids, is_active=False).update(
            is_active=True, failure_count=0, last_failure="", deactivated_at=None
        )
        if count:
            transaction.on_commit(versions.market_changed)
    return count
