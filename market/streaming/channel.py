"""The tick channel: the streamer publishes each written batch, every web process listens.

With REDIS_URL set it is a Redis pub/sub channel, so any number of web processes on any number
of machines receive every batch. On the embedded default (no Redis) the streamer serves a Unix
socket under VAR_DIR and each web process on the machine connects to it: the same fan-out,
within one machine. Pub/sub keeps no history: a page gets a full snapshot when it connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("minerwatch.stream")

REDIS_CHANNEL = "minerwatch:ticks"
RETRY_SECONDS = 1.0


def socket_path() -> Path:
    return Path(settings.STREAM_SOCKET)


class RedisPublisher:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url)

    async def start(self) -> None:
        return None

    async def publish(self, message: dict) -> None:
        try:
            await self._redis.publish(REDIS_CHANNEL, json.dumps(message))
        except Exception as exc:  # the quotes are written; pages catch up on their next snapshot
            logger.warning("could not publish %d quotes: %s", len(message.get("quotes", ())), exc)

    async def close(self) -> None:
        await self._redis.aclose()


class SocketPublisher:
    """A Unix socket server; every connected web process gets one JSON line per batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a streamer that died
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await reader.read()  # subscribers send nothing; this returns when they leave
        finally:
            self._writers.discard(writer)
            writer.close()

    async def publish(self, message: dict) -> None:
        line = (json.dumps(message) + "\n").encode()
        for writer in list(self._writers):
            try:
                writer.write(line)
                await writer.drain()
            except (ConnectionError, RuntimeError):
                self._writers.discard(writer)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def publisher():
    redis_url = getattr(settings, "REDIS_URL", "")
    return RedisPublisher(redis_url) if redis_url else SocketPublisher(socket_path())


def publish_from_a_web_process(message: dict) -> None:
    """Publish one message from synchronous code (a sign-out): on Redis, to every web process;
    without Redis the streamer alone publishes, so this does nothing (the caller tells its own
    process)."""
    redis_url = getattr(settings, "REDIS_URL", "")
    if not redis_url:
        return
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            client.publish(REDIS_CHANNEL, json.dumps(message))
        finally:
            client.close()
    except Exception as exc:  # the streams' own session checks end them a little later
        logger.warning("could not publish %s: %s", sorted(message), exc)


async def _redis_messages(url: str) -> AsyncIterator[dict]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(REDIS_CHANNEL)
        yield {"connected": True}
        async for item in pubsub.listen():
            if item.get("type") == "message":
                yield json.loads(item["data"])
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
            await client.aclose()


async def _socket_messages(path: Path) -> AsyncIterator[dict]:
    reader, writer = await asyncio.open_unix_connection(str(path), limit=16 * 1024 * 1024)
    try:
        yield {"connected": True}
        while line := await reader.readline():
            yield json.loads(line)
    finally:
        writer.close()


async def messages() -> AsyncIterator[dict]:
    """Every batch published from now on, for ever: reconnects when the channel goes away. A
    `{"connected": True}` item marks each (re)connection (batches may have been missed)."""
    redis_url = getattr(settings, "REDIS_URL", "")
    while True:
        try:
            source = _redis_messages(redis_url) if redis_url else _socket_messages(socket_path())
            async for message in source:
                yield message
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.debug("tick channel unavailable (%s); retrying", exc)
        await asyncio.sleep(RETRY_SECONDS)
