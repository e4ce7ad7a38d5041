"""market.signals.send: a receiver that fails is logged and stops neither the others nor the
writer that sent the signal."""

from __future__ import annotations

import logging

import pytest

from market import signals
from market.models import DailyBar

pytestmark = pytest.mark.django_db  # the portfolios' receiver of the signal reads the database


def test_a_failing_receiver_is_logged_and_the_others_still_run(caplog):
    received = []

    def fails(sender, **kwargs):
        raise RuntimeError("boom")

    def records(sender, instrument_ids, **kwargs):
        received.append(instrument_ids)

    signals.history_started.connect(fails, dispatch_uid="test.fails")
    signals.history_started.connect(records, dispatch_uid="test.records")
    try:
        with caplog.at_level(logging.ERROR, logger="market.signals"):
            signals.send(signals.history_started, DailyBar, instrument_ids=[3, 5])
    finally:
        signals.history_started.disconnect(dispatch_uid="test.fails")
        signals.history_started.disconnect(dispatch_uid="test.records")

    assert received == [[3, 5]]
    # One line of ours (Django's dispatcher logs its own too); the portfolios' receiver finds no
    # dividend to pay and fails nothing.
    [record] = [r for r in caplog.records if r.name == "market.signals"]
    assert record.getMessage().startswith("history_started receiver <function ")
    assert record.getMessage().endswith("failed for {'instrument_ids': [3, 5]}")
    assert isinstance(record.exc_info[1], RuntimeError)
