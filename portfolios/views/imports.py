"""The import of transactions from a CSV file: upload, preview, pick listings, confirm.

Every view starts its query from the signed-in user, so another user's portfolio is a 404.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from config.inputs import reads_own_upload
from portfolios.csv_import import (
    ImportBlocked,
    ImportPreview,
    ImportRefused,
    confirm_import,
    file_size_text,
    preview_import,
)
from portfolios.models import Portfolio
from portfolios.services.instruments import find_or_add_instrument

# An uploaded file waits this long (seconds) for its confirmation.
PENDING_IMPORT_SECONDS = 3600
# Each symbol is looked up with the market-data provider: keep one request's lookups bounded.
MAX_SYMBOLS_ADDED = 20


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Our own transactions export, or an activity CSV from Ghostfolio or a broker.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CSV_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                f"The file is {file_size_text(upload.size)}; the limit is {file_size_text(limit)}. "
                "Split it into smaller files.",
                code="too_large",
            )
        return upload


# One upload waits per user and portfolio (a new upload replaces it), so pending files cannot
# pile up in the cache; the key holds the user's id, so no one else can reach it.
def _pending_key(request: HttpRequest, portfolio: Portfolio) -> str:
    return f"csv-import:{request.user.pk}:{portfolio.pk}"


def _load_pending(request: HttpRequest, portfolio: Portfolio) -> dict | None:
    """The upload waiting for confirmation, when it is the file whose preview the form came
    from (its SHA-256 is in the form)."""
    pending = cache.get(_pending_key(request, portfolio))
    posted = request.POST.get("sha256", "")
    if not pending or not constant_time_compare(pending["sha256"], posted):
        return None
    return pending


def _render_import(
    request: HttpRequest,
    portfolio: Portfolio,
    *,
    form: UploadForm | None = None,
    preview: ImportPreview | None = None,
    refusal: str = "",
    pending: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    template = "csv/import.html"
    if request.htmx:
        template += "#panel"
    stored = pending or {}
    context = {
        "portfolio": portfolio,
        "portfolio_url": _portfolio_url(portfolio),
        "form": form or UploadForm(),
        "preview": preview,
        "refusal": refusal,
        "filename": stored.get("filename", ""),
        "sha256": stored.get("sha256", ""),
        "max_bytes": settings.CSV_IMPORT_MAX_BYTES,
    }
    return render(request, template, context, status=status)


class _SizeLimitedUpload(FileUploadHandler):
    """Stops reading an upload as soon as it passes the import limit, so that an oversized file
    is neither held in memory nor spooled to disk before it is refused."""

    def __init__(self, request: HttpRequest, limit: int):
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


# The upload handler must be in place before anything reads the request body, and the CSRF
# check reads it: so the check runs inside, after the handler is added (Django's documented way).
@reads_own_upload
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def import_transactions(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the upload form. POST: read the file and show what importing it would do."""
    if request.method == "POST":
        request.upload_handlers.insert(
            0, _SizeLimitedUpload(request, settings.CSV_IMPORT_MAX_BYTES)
        )
    return _import_transactions(request, pk)


@csrf_protect
def _import_transactions(request: HttpRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    if request.method == "GET":
        return _render_import(request, portfolio)
    form = UploadForm(request.POST, request.FILES)  # reads the body
    if getattr(request, "upload_too_large", False):
        limit = file_size_text(settings.CSV_IMPORT_MAX_BYTES)
        return _render_import(
            request,
            portfolio,
            refusal=f"The file is larger than the limit of {limit}. Split it into smaller files.",
            status=422,
        )
    if not form.is_valid():
        return _render_import(request, portfolio, form=form, status=422)
    upload = form.cleaned_data["file"]
    content = upload.read()
    # The parser looks for binary data (and names the kind: a ZIP archive, a workbook) in the
    # first 64 KiB only; a NUL byte further on would reach the CSV reader.
    if b"\x00" in content[65536:]:
        return _render_import(
            request,
            portfolio,
            form=form,
            refusal="This is not a CSV file: it contains binary data (NUL bytes).",
            status=422,
        )
    try:
        preview = preview_import(portfolio=portfolio, content=content)
    except ImportRefused as exc:
        return _render_import(request, portfolio, form=form, refusal=str(exc), status=422)
    pending = None
    if preview.can_confirm or preview.unknown_symbols or preview.mappings:
        pending = {
            "filename": upload.name,
            "sha256": preview.parsed.sha256,
            "content": content,
            "listings": preview.listings,
            "searched": preview.searched,
        }
        cache.set(_pending_key(request, portfolio), pending, PENDING_IMPORT_SECONDS)
    status = 200 if preview.can_confirm else 422
    return _render_import(request, portfolio, preview=preview, pending=pending, status=status)


def _expired(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    return _render_import(
        request,
        portfolio,
        refusal="This upload has expired, was already imported, or another file was uploaded "
        "since its preview. Upload the file again.",
        status=422,
    )


@login_required
@require_POST
def confirm_transactions_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Write the previewed file's entries, all of them or none."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    pending = _load_pending(request, portfolio)
    if pending is None:
        return _expired(request, portfolio)
    try:
        result = confirm_import(
            portfolio=portfolio,
            content=pending["content"],
            sha256=pending["sha256"],
            listings=pending.get("listings"),
            searched=pending.get("searched"),
        )
    except ImportRefused as exc:
        return _render_import(request, portfolio, refusal=str(exc), status=422)
    except ImportBlocked as exc:
        return _render_import(request, portfolio, preview=exc.preview, pending=pending, status=422)
    cache.delete(_pending_key(request, portfolio))
    text = f"Imported {result.written} transaction{'s' if result.written != 1 else ''}"
    if result.kinds:
        text += f": {result.kinds}"
    extras = []
    if result.duplicates:
        extras.append(f"{result.duplicates} already in the portfolio left out")
    if result.skipped:
        extras.append(f"{result.skipped} row{'s' if result.skipped != 1 else ''} skipped")
    messages.success(request, text + (f" ({'; '.join(extras)})." if extras else "."))
    return _redirect(request, _portfolio_url(portfolio))


@login_required
@require_POST
def cancel_transactions_import(request: HttpRequest, pk: int) -> HttpResponse:
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    if _load_pending(request, portfolio) is not None:
        cache.delete(_pending_key(request, portfolio))
    return _redirect(request, reverse("portfolios_csv:import", args=[portfolio.pk]))


def _preview_pending(request: HttpRequest, portfolio: Portfolio, pending: dict):
    """The pending upload previewed again with its listings, kept for the confirmation."""
    preview = preview_import(
        portfolio=portfolio,
        content=pending["content"],
        listings=pending.get("listings"),
        searched=pending.get("searched"),
    )
    pending["listings"] = preview.listings
    pending["searched"] = preview.searched
    cache.set(_pending_key(request, portfolio), pending, PENDING_IMPORT_SECONDS)
    return preview


@login_required
@require_POST
def add_symbols_and_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Add the unknown symbols of a pending upload as instruments (when the market-data provider
    knows them), then show the preview again."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    pending = _load_pending(request, portfolio)
    if pending is None:
        return _expired(request, portfolio)
    try:
        unknown = set(_preview_pending(request, portfolio, pending).unknown_symbols)
    except ImportRefused as exc:
        return _render_import(request, portfolio, refusal=str(exc), status=422)
    # Only symbols the pending file needs: this is not a general way to add instruments.
    wanted = {s.strip().upper() for s in request.POST.getlist("symbol")} & unknown
    failures = []
    for symbol in sorted(wanted)[:MAX_SYMBOLS_ADDED]:
        try:
            find_or_add_instrument(symbol, user=request.user)
        except ValidationError as exc:
            failures.append(exc.messages[0])
    preview = _preview_pending(request, portfolio, pending)
    return _render_import(
        request,
        portfolio,
        preview=preview,
        pending=pending,
        refusal=" ".join(failures),
        status=200 if preview.can_confirm else 422,
    )


@login_required
@require_POST
def choose_listings_and_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Use the listing the user picked for each ISIN that has several, then preview again."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    pending = _load_pending(request, portfolio)
    if pending is None:
        return _expired(request, portfolio)
    try:
        preview = _preview_pending(request, portfolio, pending)
    except ImportRefused as exc:
        return _render_import(request, portfolio, refusal=str(exc), status=422)
    listings = dict(pending["listings"])
    for mapping in preview.mappings:
        picked = request.POST.get(f"listing-{mapping.code}", "").strip().upper()
        if mapping.several and picked in {hit.symbol.upper() for hit in mapping.listings}:
            listings[mapping.code] = picked
    pending["listings"] = listings
    preview = _preview_pending(request, portfolio, pending)
    return _render_import(
        request,
        portfolio,
        preview=preview,
        pending=pending,
        status=200 if preview.can_confirm else 422,
    )


def _portfolio_url(portfolio: Portfolio) -> str:
    return reverse("portfolios:portfolio", args=[portfolio.pk])


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)
