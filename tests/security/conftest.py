"""Fixtures for the abuse tests: one user pushing every per-user limit, with the simulated
provider standing for a vendor that knows every well-formed symbol (except "ZZ…")."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from market.providers import SearchHit


@pytest.fixture(autouse=True)
def _simulated_provider(settings, monkeypatch):
    settings.MARKET_DATA_PROVIDER = "simulated"
    monkeypatch.setattr(
        "market.providers.simulated_market.is_priced", lambda symbol: not symbol.startswith("ZZ")
    )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class SearchProvider:
    """The market-data provider's search as Yahoo answers it for a few ISINs and queries,
    counting the searches that reach it (the provider is the one outside service here)."""

    name = "recorded"

    def __init__(self, listings: dict[str, list[SearchHit]] | None = None):
        self.listings = listings or {}
        self.searched: list[str] = []
        self._lock = threading.Lock()

    def search(self, text: str) -> list[SearchHit]:
        with self._lock:
            self.searched.append(text)
        return self.listings.get(text, [])


def run_together(count: int, work) -> list:
    """Run work(i) in `count` threads started together (a barrier); their results or
    exceptions, in order. Each thread closes its own database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
