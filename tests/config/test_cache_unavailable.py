"""config.cache.RedisCache when Redis does not answer (nothing listens on port 1): every read is
a miss and every write a no-op, each logged, none raised."""

from __future__ import annotations

import logging

from config import cache as cache_module
from config.cache import RedisCache


def test_every_operation_degrades_instead_of_raising(caplog, monkeypatch):
    monkeypatch.setattr(cache_module, "_last_logged", 0.0)
    backend = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    with caplog.at_level(logging.ERROR, logger="config.cache"):
        assert backend.get("k") is None
        assert backend.get("k", "fallback") == "fallback"
        assert backend.get_many(["a", "b"]) == {}
        assert backend.has_key("k") is False
        assert backend.add("k", 1) is False
        assert backend.set("k", 1) is None
        assert backend.set_many({"a": 1}) == []
        assert backend.touch("k") is False
        assert backend.delete("k") is False
        assert backend.delete_many(["a"]) is None
    assert "cache unavailable, serving without it (get)" in caplog.text
    # Logged once per LOG_EVERY seconds, not once per call.
    assert caplog.text.count("cache unavailable") == 1
