"""When the market-data provider cannot be reached: what the pages and the log say, and the
backoff that spaces the next attempts while a host cannot even be resolved.

A streak of failed runs (when it began, how many) is kept in the cache, so that every process
(web, worker, beat) sees the same outage without a query; a run that stores data ends it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger("market.outage")

DEMO_COMMAND = "MARKET_DATA_PROVIDER=simulated make run"
PROVIDER_NAMES = {"yahoo": "Yahoo Finance", "simulated": "the simulated provider"}
# Backoff while the provider's host cannot be resolved: 1, 2, 4, 8, 16, then 30 minutes.
FIRST_BACKOFF = timedelta(minutes=1)
LONGEST_BACKOFF = timedelta(minutes=30)
# Besides one line per failed run, a summary line at the first failure and every this many.
SUMMARY_EVERY = 10

_UNRESOLVED = re.compile(
    r"(?:could not resolve (?:host|proxy)|name or service not known|nodename nor servname|"
    r"temporary failure in name resolution|getaddrinfo failed)(?::\s*(?P<host>[\w.\-]+))?",
    re.IGNORECASE,
)
_REFUSED = re.compile(r"connection refused|couldn't connect|failed to connect", re.IGNORECASE)
_TIMEOUT = re.compile(r"timed? ?out|timeout", re.IGNORECASE)
_EXCEPTION_NAME = re.compile(r"^\w+(?:Error|Unavailable|Limited|Data|Symbol): ")
_HTTP = re.compile(r"HTTP (?P<status>\d{3})")


def provider_label(provider_name: str) -> str:
    return PROVIDER_NAMES.get(provider_name, provider_name)


def host_unresolved(error_text: str) -> bool:
    return bool(_UNRESOLVED.search(error_text or ""))


def plain_reason(error_text: str, provider_name: str = "yahoo") -> str:
    """One plain sentence for a run's recorded error, never cut mid-word: "Yahoo Finance could
    not be reached: the host query1.finance.yahoo.com was not found (is this machine offline?)"."""
    text = (error_text or "").strip()
    label = provider_label(provider_name)
    if not text:
        return f"{label} gave no data"
    found = _UNRESOLVED.search(text)
    if found:
        host = (found.group("host") or "").rstrip(".")
        where = f"the host {host} was not found" if host else "its host name was not found"
        return f"{label} could not be reached: {where} (is this machine offline?)"
    if _REFUSED.search(text):
        return f"{label} could not be reached: the connection was refused"
    if _TIMEOUT.search(text):
        return f"{label} did not answer in time"
    status = _HTTP.search(text)
    if status:
        return f"{label} answered with an error (HTTP {status.group('status')})"
    first_line = _EXCEPTION_NAME.sub("", text.splitlines()[0])
    if len(first_line) <= 160:
        return first_line.rstrip(".")
    return first_line[:160].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@dataclass(frozen=True)
class Outage:
    """The provider has failed `failures` runs in a row since `since`."""

    provider: str
    since: datetime
    failures: int
    reason: str
    retry_at: datetime | None

    @property
    def provider_label(self) -> str:
        return provider_label(self.provider)


def _streak_key(provider_name: str) -> str:
    return f"market:provider-outage:{provider_name}"


def _cooldown_key(provider_name: str) -> str:
    # The same key market.services.runs reads before claiming a run.
    return f"market:provider-cooldown:{provider_name}"


def current_outage(provider_name: str) -> Outage | None:
    """The outage in progress, or None (also when the cache cannot be read)."""
    try:
        streak = cache.get(_streak_key(provider_name))
        cooldown = cache.get(_cooldown_key(provider_name))
    except Exception:
        return None
    if not streak:
        return None
    retry_at = cooldown if cooldown is not None and cooldown > timezone.now() else None
    return Outage(
        provider=provider_name,
        since=streak["since"],
        failures=streak["failures"],
        reason=streak["reason"],
        retry_at=retry_at,
    )


def backoff_for(failures: int) -> timedelta:
    """How long to leave a provider whose host was not found alone after `failures` in a row."""
    seconds = FIRST_BACKOFF.total_seconds() * 2 ** min(max(failures - 1, 0), 10)
    return min(timedelta(seconds=seconds), LONGEST_BACKOFF)


def record_failure(provider_name: str, kind: str, error_text: str, *, now: datetime) -> Outage:
    """Count a failed run, back off when the host is unresolvable, and log one line (and a
    summary at the first failure and every SUMMARY_EVERY)."""
    streak = None
    with contextlib.suppress(Exception):
        streak = cache.get(_streak_key(provider_name))
    reason = plain_reason(error_text, provider_name)
    streak = {
        "since": streak["since"] if streak else now,
        "failures": (streak["failures"] if streak else 0) + 1,
        "reason": reason,
    }
    retry_at = None
    if host_unresolved(error_text):
        wait = backoff_for(streak["failures"])
        retry_at = now + wait
        with contextlib.suppress(Exception):
            timeout = math.ceil(wait.total_seconds())
            cache.set(_cooldown_key(provider_name), retry_at, timeout=timeout)
    with contextlib.suppress(Exception):
        cache.set(_streak_key(provider_name), streak, timeout=None)
    outage = Outage(provider_name, streak["since"], streak["failures"], reason, retry_at)
    retry = f"next try after {retry_at:%H:%M} UTC" if retry_at else "retrying at the next tick"
    logger.warning("%s refresh failed: %s; %s", kind, reason, retry)
    if outage.failures == 1 or outage.failures % SUMMARY_EVERY == 0:
        logger.warning(
            "%s has failed %d run(s) in a row since %s UTC; pages show dashes for prices never "
            "loaded. To see Minerwatch with simulated prices: %s",
            outage.provider_label,
            outage.failures,
            f"{outage.since:%Y-%m-%d %H:%M}",
            DEMO_COMMAND,
        )
    return outage


def record_success(provider_name: str) -> None:
    """A run stored data: the outage (if any) is over."""
    try:
        streak = cache.get(_streak_key(provider_name))
        if streak:
            cache.delete(_streak_key(provider_name))
            logger.info(
                "%s answered again after %d failed run(s) since %s UTC",
                provider_label(provider_name),
                streak["failures"],
                f"{streak['since']:%Y-%m-%d %H:%M}",
            )
    except Exception:
        return


@dataclass(frozen=True)
class OutageNotice:
    """What a page says while the latest quotes refresh has failed."""

    reason: str
    since: datetime
    failures: int
    retry_at: datetime | None
    data_as_of: datetime | None
    demo_command: str = DEMO_COMMAND


def outage_notice(last_run, data_as_of: datetime | None) -> OutageNotice | None:
    """The notice for pages, when `last_run` (the latest quotes run) failed; None otherwise."""
    if last_run is None or last_run.status != "failed":
        return None
    current = current_outage(last_run.provider)
    return OutageNotice(
        reason=plain_reason(last_run.error_text, last_run.provider),
        since=current.since if current else last_run.started_at,
        failures=current.failures if current else 1,
        retry_at=current.retry_at if current else None,
        data_as_of=data_as_of,
    )
