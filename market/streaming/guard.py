"""Who may hold a live stream, and for how long.

- Open streams are counted per session and per client address in each sse process, and a
  stream past STREAM_MAX_PER_SESSION or STREAM_MAX_PER_ADDRESS is refused (429): an open stream
  costs memory for as long as it is held.
- A stream with private numbers re-reads its session from the database (never from a cache,
  which may outlive a sign-out during an outage) before each private event and every
  STREAM_SESSION_CHECK_SECONDS, and ends when the session no longer signs in the same user (a
  sign-out, a password change, an expired or flushed session, a deactivated user).
- A sign-out ends its session's streams at once: in the process that handled it, and, with
  Redis, in every sse process through the tick channel.
- Every stream ends after STREAM_MAX_SECONDS (less up to a tenth, so that tabs opened together
  do not reconnect together); the browser opens it again, checked afresh.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections import Counter
from dataclasses import dataclass
from importlib import import_module

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import auth
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

logger = logging.getLogger("minerwatch.stream")


def session_tag(session_key: str) -> str:
    """A session's name on the tick channel (never the key itself)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Viewer:
    """Who opened a stream: their session (as its tag), user and address."""

    session: str | None
    user_id: int | None
    address: str


def _client_address(request: HttpRequest) -> str:
    # The address sign-in throttling uses (allauth's, behind TRUSTED_PROXY_COUNT proxies).
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return request.META.get("REMOTE_ADDR") or "unknown"


async def viewer_of(request: HttpRequest) -> tuple[Viewer, str | None]:
    """The viewer of a stream request, and the session key it came with."""
    user = await request.auser()
    session_key = request.session.session_key
    viewer = Viewer(
        session=session_tag(session_key) if session_key else None,
        user_id=user.pk if user.is_authenticated else None,
        address=_client_address(request),
    )
    return viewer, session_key


class OpenStreams:
    """The streams this process holds, per session and per address (thread-safe: a response is
    closed from a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_session: Counter[str] = Counter()
        self.by_address: Counter[str] = Counter()

    def admit(self, viewer: Viewer) -> str | None:
        """Count the viewer's new stream in, or say why it is refused."""
        per_session = settings.STREAM_MAX_PER_SESSION
        with self._lock:
            if viewer.session and self.by_session[viewer.session] >= per_session:
                return (
                    f"Too many open live streams for this session "
                    f"({per_session}); pages keep updating every 30 seconds."
                )
            if self.by_address[viewer.address] >= settings.STREAM_MAX_PER_ADDRESS:
                return (
                    f"Too many open live streams from this address "
                    f"({settings.STREAM_MAX_PER_ADDRESS}); pages keep updating every 30 seconds."
                )
            if viewer.session:
                self.by_session[viewer.session] += 1
            self.by_address[viewer.address] += 1
        return None

    def release(self, viewer: Viewer) -> None:
        with self._lock:
            if viewer.session:
                self.by_session[viewer.session] -= 1
                if self.by_session[viewer.session] <= 0:
                    del self.by_session[viewer.session]
            self.by_address[viewer.address] -= 1
            if self.by_address[viewer.address] <= 0:
                del self.by_address[viewer.address]


open_streams = OpenStreams()


class Admission:
    """One admitted stream; released once, whoever gets there first (the stream ending, or
    the response being closed)."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        open_streams.release(self.viewer)


def lifetime() -> float:
    """How long a stream may stay open: STREAM_MAX_SECONDS, less up to a tenth."""
    return settings.STREAM_MAX_SECONDS * random.uniform(0.9, 1.0)


def _session_store_class():
    """The session engine's store, reading the database itself when the engine keeps its
    sessions there (cached_db reads a cache first, which may still hold a signed-out session)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return DatabaseSessionStore if issubclass(store, DatabaseSessionStore) else store


def signed_in_user_id(session_key: str | None) -> int | None:
    """The user the session signs in now, as the session store and the user row say (the
    password's hash, the account being active), or None."""
    if not session_key:
        return None
    request = HttpRequest()
    request.session = _session_store_class()(session_key)
    user = auth.get_user(request)
    return user.pk if user.is_authenticated else None


def end_streams_of(sender, request=None, **kwargs) -> None:
    """user_logged_out's receiver: end the signed-out session's streams now, in this process
    and (with Redis) in every other."""
    from market.streaming import channel
    from market.streaming.hub import hub

    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    tag = session_tag(session_key)
    hub.end_session(tag)
    channel.publish_from_a_web_process({"signed_out": tag})
