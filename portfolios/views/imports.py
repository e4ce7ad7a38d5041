"""The import of transactions from a CSV file: upload, preview, pick listings, confirm.

Every view starts its query from the signed-in user, so another user's portfolio is a 404. The
upload waits in a table (portfolios.csv_import.pending); a large one is previewed by a task
while the page shows its progress (htmx polls it; without JavaScript the page refreshes).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.inputs import reads_own_upload
from portfolios.csv_import import (
    ImportBlocked,
    ImportPreview,
    ImportRefused,
    confirm_import,
    file_size_text,
)
from portfolios.csv_import import pending as uploads
from portfolios.models import PendingImport, Portfolio
from portfolios.services.instruments import find_or_add_instrument

# Each symbol is looked up with the market-data provider: keep one request's lookups bounded.
MAX_SYMBOLS_ADDED = 20
# Seconds between two looks at a preview's progress without JavaScript (the Refresh header).
REFRESH_SECONDS = 2


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


def _load_pending(request: HttpRequest, portfolio: Portfolio) -> PendingImport | None:
    """The upload waiting for confirmation, when it is the file whose preview the form came
    from (its SHA-256 is in the form)."""
    return uploads.find_pending(portfolio, request.POST.get("sha256", ""))


def _render_import(
    request: HttpRequest,
    portfolio: Portfolio,
    *,
    form: UploadForm | None = None,
    preview: ImportPreview | None = None,
    refusal: str = "",
    pending: PendingImport | None = None,
    status: int = 200,
) -> HttpResponse:
    template = "csv/import.html"
    if request.htmx:
        template += "#panel"
    checking = pending is not None and pending.state == PendingImport.State.CHECKING
    context = {
        "portfolio": portfolio,
        "portfolio_url": _portfolio_url(portfolio),
        "form": form or UploadForm(),
        "preview": preview,
        "refusal": refusal,
        "filename": pending.filename if pending else "",
        "sha256": pending.sha256 if pending else "",
        "max_bytes": settings.CSV_IMPORT_MAX_BYTES,
        "max_rows": settings.CSV_IMPORT_MAX_ROWS,
        "checking": pending if checking else None,
        "progress_url": _progress_url(portfolio, pending) if pending else "",
        "lookups_per_minute": settings.PROVIDER_LOOKUPS_PER_MINUTE,
    }
    response = render(request, template, context, status=status)
    if checking and not request.htmx:
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


def _progress_url(portfolio: Portfolio, pending: PendingImport) -> str:
    url = reverse("portfolios_csv:import_progress", args=[portfolio.pk])
    return f"{url}?sha256={pending.sha256}"


def _show_preview(
    request: HttpRequest, portfolio: Portfolio, pending: PendingImport, *, refusal: str = ""
) -> HttpResponse:
    """Preview the upload now (a small file) or queue its preview and show the progress."""
    if uploads.is_large(pending):
        uploads.start_preview(pending)
        if not request.htmx and request.method == "POST":
            return HttpResponseRedirect(_progress_url(portfolio, pending))
        return _render_import(request, portfolio, pending=pending, refusal=refusal, status=202)
    try:
        preview = uploads.preview_pending(pending)
    except ImportRefused as exc:
        uploads.discard(pending)
        return _render_import(request, portfolio, refusal=str(exc), status=422)
    return _render_preview(request, portfolio, pending, preview, refusal=refusal)


def _render_preview(
    request: HttpRequest,
    portfolio: Portfolio,
    pending: PendingImport,
    preview: ImportPreview,
    *,
    refusal: str = "",
) -> HttpResponse:
    """The preview; the upload is kept only while there is something to confirm or fix."""
    keep = preview.can_confirm or preview.unknown_symbols or preview.mappings
    keep = keep or preview.deferred_lookups
    if not keep:
        uploads.discard(pending)
    status = 200 if preview.can_confirm else 422
    return _render_import(
        request,
        portfolio,
        preview=preview,
        pending=pending if keep else None,
        refusal=refusal,
        status=status,
    )


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
    spent = uploads.spend_upload(request.user.pk)
    if not spent:
        return _render_import(
            request,
            portfolio,
            form=form,
            refusal=f"You have uploaded {spent.limit} files for import in this hour, the most one "
            f"account may. Try again {spent.wait_text()}.",
            status=422,
        )
    try:
        pending = uploads.store_upload(portfolio=portfolio, filename=upload.name, content=content)
    except uploads.UploadRefused as exc:
        return _render_import(request, portfolio, form=form, refusal=str(exc), status=422)
    return _show_preview(request, portfolio, pending)


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """How far the task previewing a large upload got; the preview once it is done."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    pending = uploads.find_pending(portfolio, request.GET.get("sha256", ""))
    if pending is None:
        return _expired(request, portfolio)
    if pending.state == PendingImport.State.CHECKING:
        return _render_import(request, portfolio, pending=pending, status=202)
    if pending.state == PendingImport.State.FAILED:
        uploads.discard(pending)
        return _render_import(request, portfolio, refusal=pending.error, status=422)
    preview = uploads.stored_preview(pending)
    if preview is None:
        return _show_preview(request, portfolio, pending)
    return _render_preview(request, portfolio, pending, preview)


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
    if pending is None or pending.state == PendingImport.State.CHECKING:
        return _expired(request, portfolio)
    try:
        result = confirm_import(
            portfolio=portfolio,
            content=bytes(pending.content),
            sha256=pending.sha256,
            listings=pending.listings,
            searched=uploads.searched_hits(pending),
        )
    except ImportRefused as exc:
        return _render_import(request, portfolio, refusal=str(exc), status=422)
    except ImportBlocked as exc:
        return _render_import(request, portfolio, preview=exc.preview, pending=pending, status=422)
    uploads.discard(pending)
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
    pending = _load_pending(request, portfolio)
    if pending is not None:
        uploads.discard(pending)
    return _redirect(request, reverse("portfolios_csv:import", args=[portfolio.pk]))


def _current_preview(pending: PendingImport) -> ImportPreview:
    """The upload's last preview (kept on the row), or a new one of a small file."""
    preview = uploads.stored_preview(pending)
    return preview if preview is not None else uploads.preview_pending(pending)


def _waiting_or_expired(request: HttpRequest, portfolio: Portfolio) -> PendingImport | None:
    pending = _load_pending(request, portfolio)
    if pending is None or pending.state == PendingImport.State.CHECKING:
        return None
    return pending


@login_required
@require_POST
def add_symbols_and_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Add the unknown symbols of a pending upload as instruments (when the market-data provider
    knows them), then show the preview again."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    pending = _waiting_or_expired(request, portfolio)
    if pending is None:
        return _expired(request, portfolio)
    try:
        unknown = set(_current_preview(pending).unknown_symbols)
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
    return _show_preview(request, portfolio, pending, refusal=" ".join(failures))


@login_required
@require_POST
def choose_listings_and_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Use the listing the user picked for each ISIN that has several, then preview again (which
    also looks up the ISINs an earlier preview had to leave for later)."""
    portfolio = get_object_or_404(Portfolio, pk=pk, owner=request.user)
    pending = _waiting_or_expired(request, portfolio)
    if pending is None:
        return _expired(request, portfolio)
    try:
        preview = _current_preview(pending)
    except ImportRefused as exc:
        return _render_import(request, portfolio, refusal=str(exc), status=422)
    listings = dict(pending.listings)
    for mapping in preview.mappings:
        picked = request.POST.get(f"listing-{mapping.code}", "").strip().upper()
        if mapping.several and picked in {hit.symbol.upper() for hit in mapping.listings}:
            listings[mapping.code] = picked
    pending.listings = listings
    pending.save(update_fields=["listings"])
    return _show_preview(request, portfolio, pending)


def _portfolio_url(portfolio: Portfolio) -> str:
    return reverse("portfolios:portfolio", args=[portfolio.pk])


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)
