"""Root URLs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import views
from market.status import status
from market.streaming.sse import stream

# The pages people browse most come first: Django tries the patterns in order on every request.
# No two patterns overlap, so the order changes nothing else. The live stream comes before them
# all: a request keeps the list of patterns tried before its own (ResolverMatch.tried) for as
# long as it lasts, and a stream lasts up to an hour, thousands at a time.
urlpatterns = [
    path("stream/", stream, name="live_stream"),
    path("", include("market.urls")),
    path("", include("portfolios.urls")),
    path("", include("market.urls_csv")),
    path("", include("portfolios.urls_csv")),
    path("accounts/", include("allauth.urls")),
    path("status/", status, name="status"),
    path("healthz", views.healthz, name="healthz"),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler500 = "config.views.server_error"
