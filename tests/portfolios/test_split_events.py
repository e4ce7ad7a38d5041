"""A split added, edited or deleted in the admin reaches the ledgers through the queued task."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from market.models import SplitEvent
from portfolios.models import Holding, Notification, Transaction
from portfolios.tasks import apply_splits

D = Decimal
pytestmark = pytest.mark.django_db


def holding_of(portfolio, instrument) -> Holding:
    return Holding.objects.get(portfolio=portfolio, instrument=instrument)


def split_form(event_or_instrument, day: str, ratio: str) -> dict:
    instrument_id = getattr(event_or_instrument, "instrument_id", None) or event_or_instrument.pk
    return {"instrument": instrument_id, "date": day, "ratio": ratio}


def test_a_split_added_in_the_admin_splits_the_holdings(
    admin_client, portfolio, iren, trade, eager_tasks, django_capture_on_commit_callbacks
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:market_splitevent_add"), split_form(iren, "2025-02-03", "4")
        )
    assert response.status_code == 302
    holding = holding_of(portfolio, iren)
    assert (holding.quantity, holding.average_cost, holding.cost_basis) == (
        D("40"),
        D("10"),
        D("400"),
    )
    split = holding.transactions.get(kind="split")
    assert (split.trade_date, split.quantity, split.note) == (
        dt.date(2025, 2, 3),
        D("30"),
        "4-for-1 split",
    )


def test_a_split_edited_in_the_admin_restates_the_holdings(
    admin_client,
    portfolio,
    iren,
    trade,
    split_event,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    event = split_event(iren, "2025-02-03", "4")
    apply_splits(split_event_ids=[event.pk])
    assert holding_of(portfolio, iren).quantity == D("40")

    # The ratio was entered wrong: it was a 2-for-1.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:market_splitevent_change", args=[event.pk]),
            split_form(event, "2025-02-03", "2"),
        )
    assert response.status_code == 302
    holding = holding_of(portfolio, iren)
    assert (holding.quantity, holding.average_cost) == (D("20"), D("20"))
    split = holding.transactions.get(kind="split")
    assert (split.quantity, split.split_ratio, split.note) == (D("10"), D("2"), "2-for-1 split")


def test_a_split_deleted_in_the_admin_leaves_the_holdings(
    admin_client,
    portfolio,
    iren,
    trade,
    split_event,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    event = split_event(iren, "2025-02-03", "4")
    apply_splits(split_event_ids=[event.pk])
    assert holding_of(portfolio, iren).quantity == D("40")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:market_splitevent_delete", args=[event.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not SplitEvent.objects.exists()
    holding = holding_of(portfolio, iren)
    assert (holding.quantity, holding.average_cost, holding.cost_basis) == (
        D("10"),
        D("40"),
        D("400"),
    )
    assert not holding.transactions.filter(kind="split").exists()


def test_a_split_edit_another_instruments_holdings_do_not_see(
    portfolio, iren, clsk, trade, split_event, eager_tasks, django_capture_on_commit_callbacks
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    trade(clsk, "buy", "2025-01-06", 10, "12")
    with django_capture_on_commit_callbacks(execute=True):
        SplitEvent.objects.create(instrument=clsk, date=dt.date(2025, 2, 3), ratio=D("3"))
    assert holding_of(portfolio, clsk).quantity == D("30")
    assert holding_of(portfolio, iren).quantity == D("10")
    assert Transaction.objects.filter(kind="split").count() == 1


def test_a_deleted_split_that_later_sells_relied_on_is_kept_and_the_owner_is_told(
    portfolio, iren, trade, split_event, eager_tasks, django_capture_on_commit_callbacks
):
    trade(iren, "buy", "2025-01-06", 10, "40")
    event = split_event(iren, "2025-02-03", "4")
    apply_splits(split_event_ids=[event.pk])
    trade(iren, "sell", "2025-03-03", 30, "12")  # needs the post-split shares
    with django_capture_on_commit_callbacks(execute=True):
        event.delete()
    holding = holding_of(portfolio, iren)
    assert holding.quantity == D("10")  # as it was: 40 - 30
    assert holding.transactions.filter(kind="split").count() == 1
    assert portfolio.owner.notifications.get().text == (
        "The change to IREN's split history could not be applied to Main: your sell of 30 on "
        "2025-03-03 is more than the 10 shares held then. Please review these trades."
    )
    assert Notification.objects.count() == 1


def test_a_queued_update_for_an_instrument_nobody_holds_does_nothing(iren):
    assert apply_splits(instrument_ids=[iren.pk]) == 0
    assert apply_splits() == 0


def test_an_admin_split_saved_while_the_broker_is_down_is_kept_logged_and_applied_later(
    admin_client, portfolio, iren, trade, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """The save has committed when the task is queued: a broker that cannot be reached is
    logged, the admin answers as usual, and the holding's next recompute applies the split."""
    import logging

    from config.celery import app

    trade(iren, "buy", "2025-01-06", 10, "40")
    # Nothing listens on port 1: each publish is a real connection attempt that fails.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    with (
        caplog.at_level(logging.ERROR, logger="portfolios.apps"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(
            reverse("admin:market_splitevent_add"), split_form(iren, "2025-02-03", "4")
        )
    assert response.status_code == 302
    assert SplitEvent.objects.filter(instrument=iren, ratio=D("4")).exists()
    assert caplog.messages == [f"could not queue the ledger update for {iren.pk}'s splits"]
    assert holding_of(portfolio, iren).quantity == D("10")

    trade(iren, "buy", "2025-03-03", 1, "11")  # the next recompute of the holding applies it
    assert holding_of(portfolio, iren).quantity == D("41")
