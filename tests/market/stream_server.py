"""A local stand-in for Yahoo's price streamer on loopback, replaying recorded frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

FRAMES = Path(__file__).resolve().parents[1] / "data" / "yahoo-stream" / "frames.jsonl"


def recorded_frames() -> list[dict]:
    return [json.loads(line) for line in FRAMES.read_text().splitlines() if line.strip()]


def frame(what_starts: str) -> str:
    return next(f["frame"] for f in recorded_frames() if f["what"].startswith(what_starts))


class ReplayServer:
    """Each connection gets the next script: a list of frames to send after the client's first
    subscribe message, then `after`: "close" (drop the connection), or "hold" (stay silent)."""

    def __init__(self, scripts: list[tuple[list[str], str]], *, port: int = 0) -> None:
        self.scripts = list(scripts)
        self.port = port
        self.received: list[list[dict]] = []  # messages from the client, per connection
        self.connections = 0
        self.go = asyncio.Event()  # frames wait for this (set it when the test is ready)
        self.go.set()
        self._server = None

    async def _handle(self, ws) -> None:
        index = self.connections
        self.connections += 1
        messages: list[dict] = []
        self.received.append(messages)
        frames, after = self.scripts[min(index, len(self.scripts) - 1)]
        try:
            messages.append(json.loads(await ws.recv()))
        except ConnectionClosed:
            return
        await self.go.wait()
        for text in frames:
            await ws.send(text)
        if after == "close":
            await ws.close()
            return
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:  # hold: keep reading (heartbeats) until the client leaves
                messages.append(json.loads(message))

    async def __aenter__(self) -> ReplayServer:
        self._server = await serve(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/?version=2"


async def until(condition, timeout: float = 10.0) -> None:
    """Wait for `condition()` to hold, yielding to the event loop in between (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
