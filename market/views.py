"""Public market pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from market.models import Instrument


def dashboard(request: HttpRequest) -> HttpResponse:
    miners = Instrument.objects.filter(miner__isnull=False).select_related("miner")
    return render(request, "market/dashboard.html", {"miners": miners})
