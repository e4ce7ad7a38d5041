"""config.cache.RedisCache: Django's Redis cache with one client per pool, on the real Redis."""

from __future__ import annotations

import os
import uuid

import pytest

from config.cache import RedisCache

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache():
    prefix = f"test-cache-{uuid.uuid4().hex}"
    backend = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": prefix})
    yield backend
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_it_reads_and_writes_like_djangos_redis_cache(redis_cache):
    assert redis_cache.get("missing") is None
    redis_cache.set("a", {"n": 1}, 30)
    assert redis_cache.add("a", "other", 30) is False
    assert redis_cache.add("b", b"bytes", 30) is True
    assert redis_cache.get_many(["a", "b", "missing"]) == {"a": {"n": 1}, "b": b"bytes"}
    assert redis_cache.add("n", 1) is True and redis_cache.incr("n", 2) == 3
    redis_cache.delete("a")
    assert redis_cache.get("a") is None


def test_one_client_serves_every_call(redis_cache):
    client = redis_cache._cache.get_client()
    assert redis_cache._cache.get_client(write=True) is client
    redis_cache.set("x", 1, 30)
    assert redis_cache._cache.get_client() is client


def test_a_forked_process_gets_its_own_connections(redis_cache):
    """gunicorn forks workers from a master that may have used the cache (preload_app)."""
    redis_cache.set("before-fork", "parent", 30)
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when it reads and writes through its own pool
        try:
            ok = redis_cache.get("before-fork") == "parent"
            redis_cache.set("from-child", "child", 30)
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert redis_cache.get("from-child") == "child"
    assert redis_cache.get("before-fork") == "parent"
