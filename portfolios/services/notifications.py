"""Marking a user's notifications read."""

from __future__ import annotations

from django.utils import timezone

from portfolios.models import Notification


def mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def mark_all_read(*, owner) -> int:
    return owner.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
