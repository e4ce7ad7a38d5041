"""A bare Django view for bench/load.py's comparison: the same settings, middleware and gunicorn
configuration as the site, one URL that reads nothing and returns a few bytes.

    gunicorn -c config/gunicorn.py bench.bare   # GET /bench/bare
"""

import os

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare", bare)]

# This module is the URLconf of the application it serves, and nothing else is routed.
settings.ROOT_URLCONF = __name__
application = get_wsgi_application()
