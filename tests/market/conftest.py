"""Fixtures of the market tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _yfinance_cache_directory(tmp_path_factory):
    """yfinance's persistent caches live in a directory of this test run, set through its public
    setting before any test calls yfinance (never ~/.cache/py-yfinance)."""
    from tests.market.yahoo_transport import use_cache_directory

    use_cache_directory(tmp_path_factory.mktemp("yfinance"))
