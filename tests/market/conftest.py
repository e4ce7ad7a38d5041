"""Fixtures of the market tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _yfinance_cache_directory(yfinance_cache_directory):
    """Every market test runs with yfinance's caches in this run's directory (tests/conftest.py)."""
