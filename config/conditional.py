"""Pages that revalidate over HTTP: an ETag from the version tokens, and 304 without rendering.

A page such as the dashboard, a miner or a portfolio is the same between two changes of what it
shows, so the browser keeps it and asks again with `If-None-Match` (`Cache-Control: private,
no-cache`). `conditional_page` answers from one multi-key cache read, before the view runs:

- the **market** and **bars** tokens (config/versions.py), replaced by every change of market
  data, daily bars and splits;
- for a signed-in session, the **user's** token (any write request they make, any save of their
  account or their own rows: a password change or a deactivation elsewhere), the **session key**
  (sign-out or another browser never matches), the **session auth hash** (a password change
  made in this session) and the user id. The CSRF secret needs no place: the body carries a
  token for the secret the browser holds, which changes only with the session key (sign-in);
- the full path, htmx's request headers (they choose the fragment), and the **time** since the
  market data last changed, in whole PAGE_ETAG_SECONDS (90 s by default): pages say "3 minutes
  ago" and show the market session's phase, so a body is reused for that long at most once the
  data stops changing (a closed market, a failing provider). The clock starts when the market
  token was made, not at fixed times: while quotes are refreshed more often than that (every
  minute), a page changes with its data alone, and is rendered once per refresh, not twice.

A matching `If-None-Match` gets a 304: no template, no query (the session's data comes from the
same cache read as the tokens; the user row is never loaded). There is no ETag, so never a 304,
when the ETag cannot be trusted: a token could not be read (the cache does not answer), flash
messages are waiting to be shown, the render changed the session, or the status is not 200.

Pages for anonymous visitors carry nothing of the visitor (base.html puts the CSRF header on
<body> for signed-in users only), so their ETag leaves the session out and their bodies are
shared across visitors in the cache, under the ETag, for PAGE_ETAG_SECONDS at most. A render that
used the CSRF token, set a cookie, touched the session's data or added a message is not shared.

`UserWritesMiddleware` replaces the user's token after every write request they make: one rule
for every form, htmx action and import, whatever the view did.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.core.cache import DEFAULT_CACHE_ALIAS, cache
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers

from config import versions

SHARED_PREFIX = "pages:public:"
# What a page's ETag is built from, besides the tokens: said to caches on every answer.
VARY = ("Cookie", "HX-Request", "HX-Target", "HX-Current-URL")
_MESSAGE_COOKIE = "messages"
_MESSAGE_SESSION_KEY = "_messages"
# Response headers that belong to a shared page (the middleware add theirs on every response).
_SHARED_HEADERS = {"content-type", "hx-push-url", "hx-trigger", "hx-retarget", "hx-reswap"}


@dataclass(frozen=True)
class Validator:
    etag: str  # as sent: W/"…"
    anonymous: bool


def _session_cache_key(session) -> str | None:
    """Where the session's data sits in the default cache (sessions are cached_db), so that it is
    read in the same round trip as the tokens; None when sessions are kept elsewhere."""
    if (
        session.session_key
        and isinstance(session, CachedDbSessionStore)
        and settings.SESSION_CACHE_ALIAS == DEFAULT_CACHE_ALIAS
    ):
        return session.cache_key
    return None


# session key -> user id, as last seen by this process: a guess that lets the one cache read also
# fetch the user's token. It is checked against the session's data, and a wrong or missing guess
# only costs a second read.
_session_users: dict[str, object] = {}
_SESSION_USERS_LIMIT = 50_000


def _remember_user(session_key: str | None, user_id) -> None:
    if session_key and user_id is not None:
        if len(_session_users) >= _SESSION_USERS_LIMIT:
            _session_users.clear()
        _session_users[session_key] = user_id


def _time_part(market_token: str | None) -> int:
    """Whole PAGE_ETAG_SECONDS since the market token was made (since the epoch for a token that
    does not say when: the wall clock's intervals)."""
    seconds = max(1, settings.PAGE_ETAG_SECONDS)
    return int((time.time() - (versions.born(market_token) or 0)) // seconds)


def page_validator(request: HttpRequest) -> Validator | None:
    """This request's page ETag, or None when the page must be rendered and sent without one."""
    session = request.session
    session_key = session.session_key  # the cookie's value: checked by reading its data
    in_cache = _session_cache_key(session)
    guessed_user = _session_users.get(session_key) if session_key else None
    keys = [versions.MARKET, versions.BARS, versions.EPOCH]
    if in_cache:
        keys.append(in_cache)
    if guessed_user is not None:
        keys.append(versions.user_key(guessed_user))
    found = cache.get_many(keys)
    data = found.get(in_cache) if in_cache else None
    if data is None:
        data = dict(session.items()) if session_key else {}  # Django's own lookup
    if _MESSAGE_SESSION_KEY in data or request.COOKIES.get(_MESSAGE_COOKIE):
        return None  # flash messages belong to one render
    user_id = data.get(SESSION_KEY)
    token_keys = [versions.MARKET, versions.BARS]
    if user_id is None:
        who = ["anonymous"]
    else:
        _remember_user(session_key, user_id)
        token_keys.append(versions.user_key(user_id))
        who = [session_key, str(user_id), data.get(HASH_SESSION_KEY, "")]
    tokens = versions.current(token_keys, found)
    if not all(tokens):
        return None  # the cache did not answer: a token we cannot read proves nothing
    htmx = sorted((name, value) for name, value in request.META.items() if name[:8] == "HTTP_HX_")
    bucket = _time_part(tokens[0].partition(".")[2])  # the market token, without its epoch
    raw = "\n".join([*tokens, *who, request.get_full_path(), repr(htmx), str(bucket)])
    digest = hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
    # Weak: two renders under one ETag mean the same page, not the same bytes (the CSRF token
    # in a signed-in page is masked afresh with every render).
    return Validator(etag=f'W/"{digest}"', anonymous=user_id is None)


def _headed(response: HttpResponse, validator: Validator | None) -> HttpResponse:
    patch_vary_headers(response, VARY)
    patch_cache_control(response, private=True, no_cache=True)
    if validator is not None:
        response["ETag"] = validator.etag
    return response


def _render_left_etag_valid(request: HttpRequest, response: HttpResponse) -> bool:
    """The ETag was computed before the render: it names this body only when the render was a
    plain 200 that changed nothing it was built from."""
    if response.status_code != 200 or response.streaming:
        return False
    session = getattr(request, "session", None)
    return session is None or not session.modified


def _shareable(request: HttpRequest, response: HttpResponse) -> bool:
    """Nothing of this visitor is in the body: no CSRF token, no cookie, no message."""
    if response.cookies or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False
    storage = getattr(request, "_messages", None)
    return not (storage is not None and getattr(storage, "added_new", False))


def _shared_page(key: str) -> HttpResponse | None:
    entry = cache.get(key)
    if entry is None:
        return None
    headers, body = entry
    response = HttpResponse(body)
    for name, value in headers:
        response.headers[name] = value
    return response


def _share(key: str, response: HttpResponse) -> None:
    headers = [(n, v) for n, v in response.headers.items() if n.lower() in _SHARED_HEADERS]
    cache.set(key, (headers, response.content), max(1, settings.PAGE_ETAG_SECONDS))


def conditional_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send the page with its ETag; answer a matching If-None-Match with 304 without calling the
    view. Put it outside the view's other decorators (login_required included): an ETag is only
    ever sent with a 200 of this same session, user and URL, so a 304 proves nothing new."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        # Computed once per request: RevalidateEarlyMiddleware may have done it already.
        validator = getattr(request, _VALIDATOR, None) or page_validator(request)
        if validator is not None:
            not_modified = get_conditional_response(request, etag=validator.etag)
            if not_modified is not None:
                return _headed(not_modified, validator)
        shared_key = None
        if validator is not None and validator.anonymous:
            shared_key = SHARED_PREFIX + validator.etag[3:-1]
            response = _shared_page(shared_key)
            if response is not None:
                return _headed(response, validator)
        response = view(request, *args, **kwargs)
        if validator is None or not _render_left_etag_valid(request, response):
            return _headed(response, None) if response.status_code == 200 else response
        if shared_key is not None and _shareable(request, response):
            _share(shared_key, response)
        return _headed(response, validator)

    wrapper.conditional_page = True  # found by RevalidateEarlyMiddleware through the URL
    return wrapper


_VALIDATOR = "_page_validator"


class RevalidateEarlyMiddleware:
    """A browser asking again for a page it kept (`If-None-Match` on a URL whose view is a
    `conditional_page`) gets its 304 here, before the rest of the middleware runs: that answer
    needs the URL, the headers and the session cookie, whose data the validator reads from the
    cache itself, so it sits below the middleware that add their headers to every answer
    (security, frame options, CSP) and above those that read the session, the user, messages
    or htmx. Any other request goes on as usual, carrying the validator computed here so that
    the view does not compute it again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and "HTTP_IF_NONE_MATCH" in request.META:
            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and getattr(match.func, "conditional_page", False):
                request.session = self.session_store(
                    request.COOKIES.get(settings.SESSION_COOKIE_NAME)
                )
                validator = page_validator(request)
                if validator is not None:
                    not_modified = get_conditional_response(request, etag=validator.etag)
                    if not_modified is not None:
                        return _headed(not_modified, validator)
                    setattr(request, _VALIDATOR, validator)
                del request.session  # SessionMiddleware sets its own
        return self.get_response(request)


class UserWritesMiddleware:
    """After any request that may write (POST, PUT, PATCH, DELETE) by a signed-in user, the pages
    their browser keeps are out of date: their token is replaced, whatever the view did."""

    SAFE = {"GET", "HEAD", "OPTIONS", "TRACE"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in self.SAFE:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                versions.user_changed(user.pk)
        return response
