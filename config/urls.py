"""Root URLs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config import views
from market.status import status

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("status/", status, name="status"),
    path("accounts/", include("allauth.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("market.urls_csv")),
    path("", include("portfolios.urls_csv")),
    path("", include("portfolios.urls")),
    path("", include("market.urls")),
]
