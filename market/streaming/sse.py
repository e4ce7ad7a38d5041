"""GET /stream/: the server-sent events of one browser tab.

`?s=IREN,WULF` names the symbols the page shows and `?v=` the layout of their cells (see
cells.py); a private part (`?portfolio=3`) adds numbers only its owner may see, checked when the
stream opens (another user gets 404). The stream sends a full snapshot when it opens (pub/sub
keeps no history, so a reconnecting tab catches up this way), then one `quotes` event per
published batch that touches the page, made of out-of-band swaps of the affected cells.

Held connections are served by the ASGI server (config/asgi.py), where an open stream costs an
idle coroutine, not a worker thread. Under the WSGI server the endpoint answers at once with an
`unavailable` event, and the page keeps polling and says so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from market.models import Instrument
from market.rules import SYMBOL_RE
from market.streaming import cells
from market.streaming.hub import RESYNC, hub

MAX_SYMBOLS = 1000
KEEPALIVE_SECONDS = 15
RETRY_MS = 3000
PRIVATE_MIN_SECONDS = 2.0


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
    symbols = {s.strip().upper() for s in text.split(",") if s.strip()}
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


async def _events(
    symbols: set[str], layout: str, private: PrivatePart | None
) -> AsyncIterator[str]:
    subscriber = hub.join(symbols | (private.symbols if private else set()))
    try:
        yield f"retry: {RETRY_MS}\n\n"
        item = RESYNC
        private_at = 0.0
        while True:
            if item == RESYNC:
                html = await _snapshot(symbols, layout) if symbols else ""
                if private:
                    html += await private.render()
                    private_at = time.monotonic()
                yield event("quotes", html, "snapshot")
            elif item:
                shown = sorted(symbols.intersection(item))
                if shown:
                    html = "".join(item[symbol].html(symbol, layout) for symbol in shown)
                    arrived = min((item[s].quotes[s].get("arrived") or 0) for s in shown)
                    # When the first tick reached the streamer and when this event left.
                    yield event("quotes", html, f"arrived={arrived} left={time.time()}")
                if private and not private.symbols.isdisjoint(item):
                    wait = PRIVATE_MIN_SECONDS - (time.monotonic() - private_at)
                    if wait > 0:
                        await asyncio.sleep(wait)
                    private_at = time.monotonic()
                    yield event("quotes", await private.render(), "private")
            item = await subscriber.next(KEEPALIVE_SECONDS)
            if item is None:
                yield ": keepalive\n\n"
    finally:
        hub.leave(subscriber)


def _unavailable() -> HttpResponse:
    # A WSGI worker must not hold the connection: tell the page to keep polling.
    response = HttpResponse(
        f"retry: {RETRY_MS}\n\n" + event("unavailable", "polling"),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-store"
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
    response = StreamingHttpResponse(
        _events(symbols, layout, private), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
