"""GET /stream/: the server-sent events of one browser tab.

`?s=IREN,WULF` names the symbols the page shows and `?v=` the layout of their cells (see
cells.py); a private part (`?portfolio=3`) adds numbers only its owner may see, checked when the
stream opens (another user gets 404) and again, from the session in the database, before each
private event and every STREAM_SESSION_CHECK_SECONDS: the stream ends when its session no longer
signs its user in. The stream sends a full snapshot when it opens (pub/sub keeps no history, so
a reconnecting tab catches up this way), then one `quotes` event per published batch that
touches the page, made of out-of-band swaps of the affected cells. Streams are capped per
session and per address and live STREAM_MAX_SECONDS at most (guard.py).

Held connections are served by the ASGI server (config/asgi.py), where an open stream costs an
idle coroutine, not a worker thread. Under the WSGI server the endpoint answers at once with an
`unavailable` event, and the page keeps polling and says so.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from market.models import Instrument
from market.rules import SYMBOL_RE
from market.streaming import cells, guard
from market.streaming.hub import ENDED, RESYNC, hub

MAX_SYMBOLS = 1000
KEEPALIVE_SECONDS = 15
RETRY_MS = 3000
PRIVATE_MIN_SECONDS = 2.0
REFUSED_RETRY_SECONDS = 30  # a refused page polls meanwhile


class PrivatePart:
    """Numbers of one signed-in user's page: their symbols, and a render of the OOB swaps."""

    def __init__(self, symbols: set[str], render: Callable[[], Awaitable[str]]) -> None:
        self.symbols = symbols
        self.render = render


# name -> async opener(request, value) -> PrivatePart (raising Http404 for someone else's);
# registered by the apps that own private pages (portfolios).
PRIVATE_PARTS: dict[str, Callable[[HttpRequest, str], Awaitable[PrivatePart]]] = {}


def event(name: str, html: str, comment: str = "") -> str:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return (f": {comment}\n" if comment else "") + f"event: {name}\n{lines}\n"


def _symbols(text: str) -> set[str]:
    # Interned: thousands of open streams share one string per symbol.
    symbols = {sys.intern(s.strip().upper()) for s in text.split(",") if s.strip()}
    bad = sorted(s for s in symbols if not SYMBOL_RE.match(s))
    if bad or len(symbols) > MAX_SYMBOLS:
        raise Http404(f"bad symbols: {', '.join(bad[:5])}" if bad else "too many symbols")
    return symbols


def _snapshot_html(symbols: set[str], layout: str) -> str:
    found = {
        i.symbol: getattr(i, "quote", None)
        for i in Instrument.objects.filter(symbol__in=symbols).select_related("quote")
    }
    return "".join(
        cells.render(symbol, found[symbol], layout, flash=False) for symbol in sorted(found)
    )


# Snapshots rendered since the last published batch, reused by the tabs that open meanwhile (a
# burst of dashboards reconnecting after a deploy renders the table once, not once per tab).
_snapshots: dict[tuple[str, str], tuple[int, str]] = {}
SNAPSHOTS_KEPT = 64


async def _snapshot(symbols: set[str], layout: str) -> str:
    key = (",".join(sorted(symbols)), layout)
    generation = hub.batches
    kept = _snapshots.get(key)
    if kept is not None and kept[0] == generation:
        return kept[1]
    html = await sync_to_async(_snapshot_html, thread_sensitive=False)(symbols, layout)
    if len(_snapshots) >= SNAPSHOTS_KEPT:
        _snapshots.clear()
    _snapshots[key] = (generation, html)
    return html


class Watch:
    """What keeps one stream open: its deadline, and for a private one the session it was
    opened with, checked again in the database."""

    def __init__(self, viewer: guard.Viewer, session_key: str | None, private: bool) -> None:
        loop = asyncio.get_running_loop()
        self.viewer = viewer
        self.session_key = session_key if private else None
        self.private = private
        self.deadline = loop.time() + guard.lifetime()
        self.next_check = loop.time()

    async def signed_in(self) -> bool:
        """Whether the session still signs in the stream's user (and note the check)."""
        self.next_check = asyncio.get_running_loop().time() + settings.STREAM_SESSION_CHECK_SECONDS
        user_id = await sync_to_async(guard.signed_in_user_id, thread_sensitive=False)(
            self.session_key
        )
        return user_id is not None and user_id == self.viewer.user_id

    async def still_open(self) -> bool:
        """False once the stream's time is up or its session is over."""
        now = asyncio.get_running_loop().time()
        if now >= self.deadline:
            return False
        return not (self.private and now >= self.next_check and not await self.signed_in())

    def wait(self) -> float:
        """How long to wait for the next batch before looking again."""
        now = asyncio.get_running_loop().time()
        until = min(self.deadline, self.next_check if self.private else self.deadline)
        return max(0.0, min(KEEPALIVE_SECONDS, until - now))


async def _private_event(private: PrivatePart, watch: Watch, comment: str) -> str | None:
    """The private part's event, or None when the session no longer signs its user in."""
    if not await watch.signed_in():
        return None
    return event("quotes", await private.render(), comment)


async def _events(
    symbols: set[str], layout: str, private: PrivatePart | None, watch: Watch, admission
) -> AsyncIterator[str]:
    session = watch.viewer.session if private else None
    subscriber = hub.join(symbols | private.symbols if private else symbols, session)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        item = RESYNC
        private_at = sent_at = 0.0
        checked = True  # the view checked the session in the database as the stream opened
        while item != ENDED:
            if item == RESYNC:
                html = await _snapshot(symbols, layout) if symbols else ""
                if private:
                    if not checked and not await watch.signed_in():
                        return
                    html += await private.render()
                    private_at = time.monotonic()
                yield event("quotes", html, "snapshot")
                sent_at = time.monotonic()
            elif item:
                shown = sorted(symbols.intersection(item))
                if shown:
                    html = "".join(item[symbol].html(symbol, layout) for symbol in shown)
                    arrived = min((item[s].quotes[s].get("arrived") or 0) for s in shown)
                    # When the first tick reached the streamer and when this event left.
                    yield event("quotes", html, f"arrived={arrived} left={time.time()}")
                    sent_at = time.monotonic()
                if private and not private.symbols.isdisjoint(item):
                    wait = PRIVATE_MIN_SECONDS - (time.monotonic() - private_at)
                    if wait > 0:
                        await asyncio.sleep(wait)
                    private_at = time.monotonic()
                    pushed = await _private_event(private, watch, "private")
                    if pushed is None:
                        return
                    yield pushed
                    sent_at = time.monotonic()
            if not await watch.still_open():
                return
            checked = False
            item = await subscriber.next(watch.wait())
            if item is None and time.monotonic() - sent_at >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                sent_at = time.monotonic()
    finally:
        hub.leave(subscriber)
        admission.release()


def _unavailable() -> HttpResponse:
    # A WSGI worker must not hold the connection: tell the page to keep polling.
    response = HttpResponse(
        f"retry: {RETRY_MS}\n\n" + event("unavailable", "polling"),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-store"
    return response


class StreamResponse(StreamingHttpResponse):
    """The events of one stream; closing it releases the stream's place, also when its body
    never started (the client left first)."""

    def __init__(self, *args, admission: guard.Admission, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.admission = admission

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.admission.release()


def _refused(message: str) -> HttpResponse:
    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["Retry-After"] = str(REFUSED_RETRY_SECONDS)
    return response


@require_GET
async def stream(request: HttpRequest) -> HttpResponse:
    if not isinstance(request, ASGIRequest):
        return _unavailable()
    symbols = _symbols(request.GET.get("s", ""))
    layout = request.GET.get("v", "row")
    if layout not in cells.LAYOUTS:
        raise Http404("unknown layout")
    private = None
    for name, opener in PRIVATE_PARTS.items():
        if name in request.GET:
            private = await opener(request, request.GET[name])
            break
    viewer, session_key = await guard.viewer_of(request)
    watch = Watch(viewer, session_key, private is not None)
    if private is not None and not await watch.signed_in():
        raise Http404("no such portfolio")  # the session, read from the database, is over
    refusal = guard.open_streams.admit(viewer)
    if refusal:
        return _refused(refusal)
    admission = guard.Admission(viewer)
    response = StreamResponse(
        _events(symbols, layout, private, watch, admission),
        admission=admission,
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
