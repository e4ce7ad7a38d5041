"""The default cache on the real Redis of REDIS_URL, through the backend production uses, for the
tests that run on it: keys under a prefix of their own, removed afterwards."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager


@contextmanager
def real_redis_cache(settings, name: str, **options):
    redis_url = os.environ["REDIS_URL"]
    prefix = f"test-{name}-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
            **({"OPTIONS": options} if options else {}),
        }
    }
    try:
        yield
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
