"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def site(request: HttpRequest) -> dict:
    def own():
        """What the navigation and the pages show of the signed-in user's own rows
        (portfolios.own_rows.own_summary), None for a visitor."""
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        from portfolios.own_rows import own_summary

        return own_summary(user)

    # Lazy: only pages that show them pay for reading them.
    own_lazy = SimpleLazyObject(own)
    return {
        "market_data_provider": settings.MARKET_DATA_PROVIDER,
        "own": own_lazy,
        "unread_notifications": SimpleLazyObject(
            lambda: own_lazy.unread_notifications if own_lazy else 0
        ),
    }
