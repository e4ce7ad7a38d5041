"""Request input checked before any view sees it: control characters and Accept-Encoding.

- No text a person types contains a NUL or another C0 control character (tab, line feed and
  carriage return aside), yet PostgreSQL refuses a NUL in any string and a view that passes
  one to a query fails with a server error. `RequestInputMiddleware` answers such a request
  with 400 before sessions, the page cache or a view run: the path and every query parameter
  first, every form field (names and values, urlencoded or multipart) once the view is known;
  uploaded files are their view's business.
- `Accept-Encoding: gzip;q=0` means "not gzip", yet whitenoise and the page cache look for the
  word only. The middleware removes the codings a browser refuses (q=0) from the header, so
  everything below it reads a list of codings the browser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

# C0 controls but tab, LF and CR, and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUALITY = re.compile(r"^q=([0-9.]+)$")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _first_bad(pairs: Iterable[tuple[str, list[str]]]) -> str | None:
    for name, values in pairs:
        if has_control_characters(name) or any(has_control_characters(v) for v in values):
            return name
    return None


def accepted_encodings(header: str) -> str:
    """`header` without the codings whose quality is 0 (`gzip;q=0, br` -> `br`)."""
    kept = []
    for part in header.split(","):
        coding, *params = (piece.strip() for piece in part.split(";"))
        refused = False
        for param in params:
            match = _QUALITY.match(param.lower().replace(" ", ""))
            if match:
                try:
                    refused = float(match.group(1)) == 0
                except ValueError:
                    refused = True
        if coding and not refused:
            kept.append(part.strip())
    return ", ".join(kept)


def _refused(where: str) -> HttpResponse:
    where = CONTROL_CHARACTERS.sub("?", where)
    return HttpResponseBadRequest(
        f"Bad request: {where} contains a control character (such as NUL).\n",
        content_type="text/plain; charset=utf-8",
    )


def reads_own_upload(view):
    """Mark a view that sets its own upload handlers before it reads the body (a size limit):
    the middleware leaves its form alone, and the view checks what it reads."""
    view.reads_own_upload = True
    return view


class RequestInputMiddleware:
    """Refuse control characters in the path, query and form; keep Accept-Encoding honest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        encoding = request.META.get("HTTP_ACCEPT_ENCODING")
        if encoding and "q=" in encoding:
            request.META["HTTP_ACCEPT_ENCODING"] = accepted_encodings(encoding)
        if has_control_characters(request.path):
            return _refused("the address")
        bad = _first_bad(request.GET.lists())
        if bad is not None:
            return _refused(f"the query parameter “{bad[:40]}”")
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        # The form is read here, once the view is known: a view marked `reads_own_upload` must
        # set its upload handlers before anything reads the body.
        if request.method != "POST" or getattr(view, "reads_own_upload", False):
            return None
        bad = _first_bad(request.POST.lists())
        if bad is not None:
            return _refused(f"the form field “{bad[:40]}”")
        return None
