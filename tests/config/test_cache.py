"""The Redis cache (django-redis, as configured when REDIS_URL is set) on the real Redis:
reads and writes, forked workers, and cached_db sessions kept in it."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches

from tests.redis_cache import real_redis_cache

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache(settings):
    with real_redis_cache(settings, "cache", SOCKET_CONNECT_TIMEOUT=0.5, SOCKET_TIMEOUT=1.0):
        yield caches["default"]


def test_it_reads_and_writes(redis_cache):
    assert redis_cache.get("missing") is None
    redis_cache.set("a", {"n": 1}, 30)
    assert redis_cache.add("a", "other", 30) is False
    assert redis_cache.add("b", b"bytes", 30) is True
    assert redis_cache.get_many(["a", "b", "missing"]) == {"a": {"n": 1}, "b": b"bytes"}
    assert redis_cache.add("n", 1) is True and redis_cache.incr("n", 2) == 3
    redis_cache.delete("a")
    assert redis_cache.get("a") is None


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


def test_cached_db_sessions_live_in_it_and_in_the_database(redis_cache, db):
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session

    session = SessionStore()
    session["answer"] = 42
    session.save()
    assert redis_cache.get(session.cache_key) == {"answer": 42}
    assert Session.objects.filter(session_key=session.session_key).exists()
    redis_cache.delete(session.cache_key)  # evicted: read from the database, cached again
    assert SessionStore(session.session_key)["answer"] == 42
    assert redis_cache.get(session.cache_key) == {"answer": 42}
