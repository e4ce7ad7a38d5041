"""The notifications page: what alerts and the ledger told the user, with mark-as-read."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portfolios import services
from portfolios.models import Notification
from portfolios.views.common import HtmxHttpRequest, done

INDEX = "portfolios/notifications.html"
PER_PAGE = 30


def _context(request: HtmxHttpRequest) -> dict:
    number = request.GET.get("page") or request.POST.get("page")
    page = Paginator(request.user.notifications.all(), PER_PAGE).get_page(number)
    unread = request.user.notifications.filter(read_at__isnull=True).count()
    return {"page": page, "unread": unread}


@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, INDEX, _context(request))


@login_required
@require_POST
def read(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification, pk=pk, owner=request.user)
    services.mark_read(notification=notification)
    return done(
        request, reverse("portfolios:notifications"), template=INDEX, context=_context(request)
    )


@login_required
@require_POST
def read_all(request: HtmxHttpRequest) -> HttpResponse:
    services.mark_all_read(owner=request.user)
    return done(
        request, reverse("portfolios:notifications"), template=INDEX, context=_context(request)
    )
