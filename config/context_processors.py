"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def site(request: HttpRequest) -> dict:
    def unread_count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return user.notifications.filter(read_at__isnull=True).count()

    # Lazy: only pages that show the navigation pay for the query.
    return {
        "market_data_provider": settings.MARKET_DATA_PROVIDER,
        "unread_notifications": SimpleLazyObject(unread_count),
    }
