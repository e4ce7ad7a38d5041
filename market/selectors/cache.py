"""Cache plumbing shared by the selectors: keys and values cached across processes."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.core.cache import cache

CACHE_PREFIX = "market:v1"


def cache_key(name: str, *parts: str) -> str:
    digest = hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"{CACHE_PREFIX}:{name}:{digest}"


# Values computed from the bars are big (one entry per instrument) and change about once a day.
# Each process keeps the last ones it unpickled, and checks with one small cache read (a token)
# that the shared cache still holds the same computation: a cache clear or a recomputation by
# another process changes the token.
_memo: dict[str, tuple[str, Any]] = {}


MEMO_SIZE = 16


def cached(key: str, compute, timeout: int):
    """`compute()` cached under `key` in Django's cache, and memoised in the process."""
    token = cache.get(f"{key}:token")
    if token is not None:
        memo = _memo.get(key)
        if memo is not None and memo[0] == token:
            return memo[1]
        stored = cache.get(key)
        if stored is not None and stored[0] == token:
            _remember(key, stored)
            return stored[1]
    value = compute()
    token = uuid.uuid4().hex
    cache.set_many({key: (token, value), f"{key}:token": token}, timeout)
    _remember(key, (token, value))
    return value


def _remember(key: str, entry: tuple[str, Any]) -> None:
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()
    _memo[key] = entry


def forget_memo() -> None:
    """Drop the process's memo (the bench uses it to measure a cold start)."""
    _memo.clear()
