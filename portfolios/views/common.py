"""What every portfolios view shares: the htmx request type and the two ways a form post ends."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_htmx.middleware import HtmxDetails

CLEAR_MESSAGES = '<div id="flash-messages" role="status" hx-swap-oob="true"></div>'


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def apply_errors(form: Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: each field's message next to its field."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def form_invalid(
    request: HtmxHttpRequest,
    template: str,
    context: dict,
    *,
    partial: str,
    target: str,
    partial_template: str | None = None,
) -> HttpResponse:
    """A refused post: with htmx, the form's partial in place of the form (422); without, the
    whole page again with the errors (422)."""
    if request.htmx:
        source = partial_template or template
        response = render(request, f"{source}#{partial}", context, status=422)
        # The banner of an earlier success on this page no longer applies: empty it.
        response.write(CLEAR_MESSAGES)
        return reswap(retarget(response, target), "outerHTML")
    return render(request, template, context, status=422)


def done(
    request: HtmxHttpRequest,
    redirect_to: str,
    *,
    template: str | None = None,
    context: dict | None = None,
    partial: str = "body",
) -> HttpResponse:
    """A post that worked: redirect (a plain form), or the page's body partial for htmx to swap
    in place (or a client-side redirect when there is no page left to update)."""
    if not request.htmx:
        return redirect(redirect_to)
    if template is None:
        return HttpResponseClientRedirect(redirect_to)
    return render(request, f"{template}#{partial}", context or {})
