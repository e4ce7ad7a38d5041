"""Alert pages: a user's price alerts, created, edited, paused and deleted."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.conditional import conditional_page
from portfolios import services
from portfolios.forms import AlertForm
from portfolios.models import PriceAlert
from portfolios.services.alert_setup import AlertSaved
from portfolios.views.common import HtmxHttpRequest, apply_errors, done, form_invalid

INDEX = "portfolios/alerts.html"


def _own_alert(request: HtmxHttpRequest, pk: int) -> PriceAlert:
    return get_object_or_404(
        PriceAlert.objects.select_related("instrument"), pk=pk, owner=request.user
    )


def _index_context(request: HtmxHttpRequest, form: AlertForm | None = None) -> dict:
    alerts = list(
        request.user.alerts.select_related("instrument__quote").order_by(
            "-active", "instrument__symbol", "id"
        )
    )
    return {
        "alerts": alerts,
        "form": form or AlertForm(initial={"symbol": request.GET.get("symbol", "").upper()}),
        "symbol_choices": services.symbol_choices(),
        "rearm_percent": f"{settings.ALERT_REARM_PERCENT.normalize():f}",
        "alerts_limit": settings.ALERTS_PER_USER,
    }


def _fields(form: AlertForm) -> dict:
    return {
        "instrument": form.cleaned_data["instrument"],
        "condition": form.cleaned_data["condition"],
        "threshold": form.cleaned_data["threshold"],
        "active": form.cleaned_data["active"],
    }


def _tell(request: HtmxHttpRequest, text: str, saved: AlertSaved) -> None:
    """The success message, and when the alert will fire if its price is already past it."""
    messages.success(request, text)
    if saved.already:
        messages.info(request, saved.already)


@conditional_page
@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, INDEX, _index_context(request))


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HtmxHttpRequest) -> HttpResponse:
    form = AlertForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.create_alert(owner=request.user, **_fields(form))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            alert = saved.alert
            _tell(request, f"Alert set: {alert.instrument.symbol}, {_describe(alert)}.", saved)
            return done(
                request,
                reverse("portfolios:alerts"),
                template=INDEX,
                context=_index_context(request),
            )
    if request.method == "POST":
        return form_invalid(
            request,
            INDEX,
            _index_context(request, form),
            partial="alert_form",
            target="#alert-form",
        )
    return render(request, INDEX, _index_context(request, form))


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    initial = {
        "symbol": alert.instrument.symbol,
        "condition": alert.condition,
        "threshold": alert.threshold.normalize(),
        "active": alert.active,
    }
    form = AlertForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = services.update_alert(alert=alert, **_fields(form))
        _tell(request, f"Saved the {alert.instrument.symbol} alert.", saved)
        return done(request, reverse("portfolios:alerts"))
    context = {
        "alert": alert,
        "form": form,
        "symbol_choices": services.symbol_choices(),
    }
    if request.method == "POST":
        return form_invalid(
            request,
            "portfolios/alert_edit.html",
            context,
            partial="alert_form",
            target="#alert-form",
            partial_template=INDEX,
        )
    return render(request, "portfolios/alert_edit.html", context)


@login_required
@require_POST
def delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    symbol = alert.instrument.symbol
    alert.delete()
    messages.success(request, f"Deleted the {symbol} alert.")
    return done(
        request, reverse("portfolios:alerts"), template=INDEX, context=_index_context(request)
    )


@login_required
@require_POST
def toggle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    alert = _own_alert(request, pk)
    saved = services.set_alert_active(alert=alert, active=not alert.active)
    if saved.already:
        messages.info(request, saved.already)
    return done(
        request, reverse("portfolios:alerts"), template=INDEX, context=_index_context(request)
    )


def _describe(alert: PriceAlert) -> str:
    condition = alert.get_condition_display().lower().replace(" (%)", "")
    if alert.is_percent:
        return f"{condition} {alert.threshold.normalize():f}%"
    return f"{condition} {alert.threshold.normalize():f}"
