"""Version tokens: the one notion of "changed" that every cache and every ETag keys on.

Three kinds of token live in the cache, each a random string replaced whenever what it stands
for changes:

- the **market** token: quotes, instruments, miner facts, snapshots (a quotes refresh ending,
  another refresh run that stored something or failed, any save of a market model such as an
  edit in the admin, a prune);
- the **bars** token: daily bars and splits, and the share counts and membership they are
  summed with (a bars or profiles run that stored something, a bar, split, instrument or miner
  saved or deleted); what is computed from the bars (YTD bases, 52-week ranges, correlations,
  the daily sector history) keys on it;
- one **user** token per user: their watchlists, portfolios, holdings, transactions, alerts,
  notifications and account (any write request they make, and the receivers and tasks that
  touch their rows).

Every token a reader gets is prefixed with the **epoch**, one more token that stands for "the
cache may have missed writes": the cache's circuit breaker (config/breaker.py) replaces it, with
the market and bars tokens, when Redis answers again after an outage (`forget_all`), so nothing
stored before or during the outage matches any token afterwards, user tokens included.

Tokens are replaced at once and again when the writing transaction commits, so a computation
that read old data can never be stored under the new token. A token that is missing (never
set, evicted, or the cache was cleared) starts again from a fresh random value, never from a
default an old entry could still carry.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

MARKET = "versions:market"
BARS = "versions:bars"
EPOCH = "versions:epoch"


def user_key(user_id) -> str:
    return f"versions:user:{user_id}"


def _new_token() -> str:
    """A random value that says when it was made (whole seconds, then "-"): what a page shows
    of the clock ("3 minutes ago") is reckoned from when its data last changed
    (config/conditional.py)."""
    return f"{int(time.time())}-{uuid.uuid4().hex}"


def born(token: str | None) -> int | None:
    """When the raw token value `token` was made, in Unix seconds; None for a value without it."""
    head, sep, _ = (token or "").partition("-")
    return int(head) if sep and head.isdigit() else None


def _replace(keys: Iterable[str]) -> None:
    keys = list(keys)
    if keys:
        cache.set_many({key: _new_token() for key in keys}, None)


def _replace_now_and_on_commit(keys: list[str]) -> None:
    _replace(keys)
    # In autocommit this runs at once (a second, harmless replacement); inside a transaction it
    # runs after the commit, when a reader can first see the new data.
    transaction.on_commit(lambda: _replace(keys), robust=True)


def current(keys: list[str], found: dict | None = None) -> tuple[str, ...]:
    """The tokens under `keys`, each prefixed with the epoch (read from `found` first, when the
    caller already fetched some in a multi-key read). A missing token is created; "" stands for
    a cache that did not answer, which callers treat as "do not cache"."""
    found = dict(found or {})
    wanted = [*keys, EPOCH]
    missing = [key for key in wanted if key not in found]
    if missing:
        found.update(cache.get_many(missing))
        missing = [key for key in wanted if key not in found]
        if missing:
            # add() keeps a token another process set first.
            for key in missing:
                cache.add(key, _new_token(), None)
            found.update(cache.get_many(missing))
    epoch = found.get(EPOCH, "")
    return tuple(f"{epoch}.{found[key]}" if epoch and found.get(key) else "" for key in keys)


def market_token() -> str:
    return current([MARKET])[0]


def bars_token() -> str:
    return current([BARS])[0]


def user_token(user_id) -> str:
    return current([user_key(user_id)])[0]


def market_changed(**kwargs) -> None:
    """Everything that shows market data is out of date (also a signal receiver)."""
    _replace_now_and_on_commit([MARKET])


def bars_changed(**kwargs) -> None:
    """What is computed from daily bars and splits is out of date; so is every market page
    (also a signal receiver)."""
    _replace_now_and_on_commit([BARS, MARKET])


def user_changed(*user_ids) -> None:
    """These users' own data changed."""
    _replace_now_and_on_commit([user_key(uid) for uid in set(user_ids) if uid is not None])


def owner_changed(sender, instance, **kwargs) -> None:
    """post_save/post_delete receiver for models with an `owner` (owner_id is on the row)."""
    user_changed(instance.owner_id)


def account_changed(sender, instance, **kwargs) -> None:
    """post_save/post_delete receiver for the user model: password, activity, names."""
    user_changed(instance.pk)


def forget_all() -> None:
    """Replace every token there is a key for, and the epoch that prefixes every user's token,
    e.g. after the cache was unreachable and writes may have gone unrecorded."""
    _replace([EPOCH, MARKET, BARS])
