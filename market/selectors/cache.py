"""Cache plumbing shared by the selectors: values computed once and kept in Django's cache under
keys that carry the version tokens they were computed for (config/versions.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache

CACHE_PREFIX = "market:v2"


def cache_key(name: str, *parts: str) -> str:
    digest = hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"{CACHE_PREFIX}:{name}:{digest}"


def cached_on_token[T](
    token: str, name: str, parts: tuple[str, ...], compute: Callable[[], T], timeout: int
) -> T:
    """`compute()` kept in Django's cache under `name`, the version `token` and `parts`.

    A new token is a new key, so a changed token can never find the old value. An empty
    token means the cache did not answer when it was read: then the value is computed and
    not stored, since it could not be told apart from an older one later."""
    if not token:
        return compute()
    key = cache_key(name, token, *parts)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout)
    return value
