"""Whole-page caching per signed-in session, invalidated by data versions.

A page such as the dashboard, a miner or a portfolio costs milliseconds of template rendering,
yet between two quote refreshes it is the same for the same user. `cached_page` keeps the
rendered page in the cache under the session (or "anonymous"), the CSRF secret, the URL and the
htmx headers, tagged with two version tokens read *before* rendering:

- the market version, replaced whenever market data changes (a quotes refresh ending, another
  refresh run that stored something or failed, any save of a market model, e.g. an edit in the
  admin, a prune), and
- the user's version, replaced whenever the user's own data changes (any POST/PUT/PATCH/DELETE
  they make, a save of their account, their watchlists, portfolios, alerts or notifications, and
  the background jobs that touch their holdings or notify them).

A stored page is served only while both tokens are unchanged and for PAGE_CACHE_SECONDS at most
(relative times such as "3 minutes ago" and the market session's phase move with the clock).
Tokens are replaced right away and again once the writing transaction commits, so a render that
read old data can never be stored under the new token.

A hit costs one multi-key cache read (the page, both versions and the session's data together):
no query, no template; PageCacheMiddleware answers it before the session, CSRF, auth and URL
machinery, for the URLs this process has stored. Pages are stored gzipped and sent so to
browsers that accept it. The checks Django does per request stay true on a hit:
- the session must still exist and name a user, so sign-out and expired sessions miss;
- the user's version changes with every save of the user, so a password change or a
  deactivation elsewhere makes the next request render (and Django then signs the session out);
- the page carries the CSRF token rendered for this very CSRF secret (part of the key);
- pages with flash messages, or renders that set cookies or change the session, are never stored.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable
from functools import wraps
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.core.cache import DEFAULT_CACHE_ALIAS, cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from config import versions

KEY_PREFIX = "pagecache:page:"
# Response headers a view sets that belong to the page (the middleware below the view add theirs,
# CSP and the like, on every response, hit or miss).
_KEPT_HEADERS = {"content-type", "vary", "hx-push-url", "hx-trigger", "hx-retarget", "hx-reswap"}
# Says whether the page cache served a page ("hit") or rendered it ("miss"), as proxies do.
CACHE_HEADER = "X-Page-Cache"
_GZIP = re.compile(r"\bgzip\b")
_MESSAGE_COOKIE = "messages"
_MESSAGE_SESSION_KEY = "_messages"


def enabled() -> bool:
    return settings.PAGE_CACHE_SECONDS > 0


# --- the cache itself --------------------------------------------------------------------------


def _page_key(request: HttpRequest, csrf_secret: str | None) -> str | None:
    """The page's key for this request, or None when it must not use the cache."""
    if not csrf_secret or request.COOKIES.get(_MESSAGE_COOKIE):
        # No CSRF secret yet: the render makes one and sets the cookie, so its page is the
        # browser's first and cannot be reused. Pending flash messages belong to one render.
        return None
    # htmx's request headers (HX-Request, HX-Target, ...) choose the fragment a view renders.
    htmx = sorted((name, value) for name, value in request.META.items() if name[:8] == "HTTP_HX_")
    # A session key belongs to one user for its whole life: Django gives the session a new key
    # when someone signs in and empties it when they sign out.
    who = request.session.session_key or "anonymous"
    raw = "\n".join([who, csrf_secret, request.get_full_path(), repr(htmx)])
    return KEY_PREFIX + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def _session_cache_key(session) -> str | None:
    """Where the session's data sits in our cache, to read it in the same round trip as the
    page; None when sessions are kept elsewhere (then the session is read on its own)."""
    if (
        session.session_key
        and isinstance(session, CachedDbSessionStore)
        and settings.SESSION_CACHE_ALIAS == DEFAULT_CACHE_ALIAS
    ):
        return session.cache_key
    return None


# session key -> user id, as last seen by this process: lets the first cache read also fetch the
# user's version (checked against the session's data, and read again when it was wrong).
_session_users: dict[str, object] = {}
_SESSION_USERS_LIMIT = 50_000


def _lookup(request: HttpRequest, page_key: str) -> tuple[dict, tuple[str, ...], object]:
    """One cache read, usually: the page, the versions, the session's data. Returns the session's
    data, the current version tokens and the stored entry (or None)."""
    session = request.session
    session_key_in_cache = _session_cache_key(session)
    guessed_user = _session_users.get(session.session_key) if session.session_key else None
    keys = [page_key, versions.MARKET]
    if session_key_in_cache:
        keys.append(session_key_in_cache)
    if guessed_user is not None:
        keys.append(versions.user_key(guessed_user))
    found = cache.get_many(keys)
    data = found.get(session_key_in_cache) if session_key_in_cache else None
    if data is None:
        data = dict(session.items())  # not in the cache: Django's own lookup (the database)
    user_id = data.get(SESSION_KEY)
    if session.session_key and user_id is not None:
        if len(_session_users) >= _SESSION_USERS_LIMIT:
            _session_users.clear()
        _session_users[session.session_key] = user_id
    version_keys = [versions.MARKET]
    if user_id is not None:
        version_keys.append(versions.user_key(user_id))
    return data, versions.current(version_keys, found), found.get(page_key)


def _accepts_gzip(request: HttpRequest) -> bool:
    return bool(_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))


def _with_body(
    request: HttpRequest, response: HttpResponse, compressed: bytes, plain: bytes | None = None
) -> None:
    """The stored page's body, gzipped for the browsers that say they accept it (all of them):
    compressed once when stored, it is a fifth of the bytes to send on every hit."""
    if _accepts_gzip(request):
        response.content = compressed
        response["Content-Encoding"] = "gzip"
    elif plain is None:
        response.content = gzip.decompress(compressed)


def _served(
    request: HttpRequest, entry, data: dict, tokens: tuple[str, ...]
) -> HttpResponse | None:
    if entry is None:
        return None
    stored_tokens, user_id, auth_hash, headers, compressed = entry
    if (
        stored_tokens != tokens
        or user_id != data.get(SESSION_KEY)
        or auth_hash != data.get(HASH_SESSION_KEY)
    ):
        return None
    response = HttpResponse()
    for name, value in headers:  # Vary among them, already with Cookie and Accept-Encoding
        response.headers[name] = value
    _with_body(request, response, compressed)
    response[CACHE_HEADER] = "hit"
    return response


def _find(
    request: HttpRequest, csrf_secret: str | None
) -> tuple[str | None, tuple[str, ...], HttpResponse | None]:
    """The page's key, the current version tokens and the stored page when it may be served.
    The key is None when this request must not use the cache at all; the tokens hold "" when
    they could not be read (the cache is away: render, never store)."""
    page_key = _page_key(request, csrf_secret)
    if page_key is None:
        return None, (), None
    data, tokens, entry = _lookup(request, page_key)
    if _MESSAGE_SESSION_KEY in data:
        return None, tokens, None  # flash messages belong to one render
    if "" in tokens:
        return page_key, tokens, None
    response = _served(request, entry, data, tokens)
    if response is not None:
        request.page_cache_hit = True
    return page_key, tokens, response


def _storable(request: HttpRequest, response: HttpResponse) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return False
    storage = getattr(request, "_messages", None)
    return not (storage is not None and getattr(storage, "added_new", False))


def cached_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve a GET page from the cache while the market and the user's data are unchanged.

    Put it outside the view's other decorators (login_required included): a hit is only
    possible for a page rendered with status 200 for this same session, user and URL."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "GET" or not enabled():
            return view(request, *args, **kwargs)
        page_key, tokens, response = _find(request, request.META.get("CSRF_COOKIE"))
        if response is not None:
            _remember_path(request)
            return response
        response = view(request, *args, **kwargs)
        if page_key is None:
            return response
        response[CACHE_HEADER] = "miss"
        if "" not in tokens and _storable(request, response):
            # The session decided what this page shows (as when Django reads it), and the body
            # goes compressed or not by Accept-Encoding.
            patch_vary_headers(response, ("Cookie", "Accept-Encoding"))
            headers = [(n, v) for n, v in response.headers.items() if n.lower() in _KEPT_HEADERS]
            session = request.session
            compressed = gzip.compress(response.content, compresslevel=6, mtime=0)
            entry = (
                tokens,
                session.get(SESSION_KEY),
                session.get(HASH_SESSION_KEY),
                headers,
                compressed,
            )
            cache.set(page_key, entry, settings.PAGE_CACHE_SECONDS)
            _remember_path(request)
            _with_body(request, response, compressed, plain=response.content)
        return response

    return wrapper


# The URLs (with their query) whose pages this process has stored or served: the only ones
# PageCacheMiddleware looks up, so other requests never pay a cache read for nothing.
_cached_paths: set[str] = set()
_CACHED_PATHS_LIMIT = 20_000
_CSRF_SECRET = re.compile(r"[a-zA-Z0-9]{32}")


def _remember_path(request: HttpRequest) -> None:
    if len(_cached_paths) >= _CACHED_PATHS_LIMIT:
        _cached_paths.clear()
    _cached_paths.add(request.get_full_path())


class PageCacheMiddleware:
    """Serve a stored page before the session, CSRF, auth, messages and URL machinery run, as
    Django's FetchFromCacheMiddleware does; the checks are the ones `cached_page` makes (same
    session, user, auth hash, CSRF secret and data versions), and whatever it cannot serve goes
    down the stack unchanged, where the decorated view renders and stores it.

    It sits below the middleware that add headers to every response (security, frame options,
    CSP) so that a page from the cache carries them too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and request.get_full_path() in _cached_paths and enabled():
            response = self._from_cache(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _from_cache(self, request: HttpRequest) -> HttpResponse | None:
        csrf_secret = request.COOKIES.get(settings.CSRF_COOKIE_NAME, "")
        if settings.CSRF_USE_SESSIONS or not _CSRF_SECRET.fullmatch(csrf_secret):
            return None  # Django's CSRF middleware decides what this browser's secret is
        request.session = self.session_store(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        _, _, response = _find(request, csrf_secret)
        if response is not None:
            response["Content-Length"] = str(len(response.content))
        return response


class UserWritesMiddleware:
    """After any request that may write (POST, PUT, PATCH, DELETE) by a signed-in user, their
    cached pages are out of date: one rule for every form, htmx action and CSV import."""

    SAFE = {"GET", "HEAD", "OPTIONS", "TRACE"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in self.SAFE and enabled():
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                versions.user_changed(user.pk)
        return response
