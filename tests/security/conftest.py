"""Fixtures of the security tests: one user pushing every per-user limit, with the simulated
provider standing for a vendor that knows every well-formed symbol (except "ZZ…"); and the
site's live stream served as in production (uvicorn serving config.asgi in a process of its own,
DEBUG=0) on the test database, fed by a tick channel the test holds (the streamer's Unix socket,
or a Redis of the test's own)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from market.providers import SearchHit
from tests import conftest as shared
from tests.faults.conftest import free_port, redis_server, wait_until  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _simulated_provider(settings, monkeypatch):
    settings.MARKET_DATA_PROVIDER = "simulated"
    monkeypatch.setattr(
        "market.providers.simulated_market.is_priced", lambda symbol: not symbol.startswith("ZZ")
    )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class SearchProvider:
    """The market-data provider's search as Yahoo answers it for a few ISINs and queries,
    counting the searches that reach it (the provider is the one outside service here)."""

    name = "recorded"

    def __init__(self, listings: dict[str, list[SearchHit]] | None = None):
        self.listings = listings or {}
        self.searched: list[str] = []
        self._lock = threading.Lock()

    def search(self, text: str) -> list[SearchHit]:
        with self._lock:
            self.searched.append(text)
        return self.listings.get(text, [])


def run_together(count: int, work) -> list:
    """Run work(i) in `count` threads started together (a barrier); their results or
    exceptions, in order. Each thread closes its own database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


ROOT = Path(settings.BASE_DIR)


class SseSite:
    def __init__(self, port: int, process: subprocess.Popen, log_path: Path, socket_path: Path):
        self.port = port
        self.process = process
        self.log_path = log_path
        self.socket_path = socket_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_sse(tmp_path, transactional_db):
    """start_sse(**environment): uvicorn serving the site (the sse process) on a free port."""
    started: list[SseSite] = []

    def start(**environment) -> SseSite:
        port = free_port()
        socket_path = tmp_path / f"ticks-{port}.sock"
        env = {
            **os.environ,
            "DATABASE_URL": shared.test_database_url(),
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,  # the sessions the tests sign are read there
            "SECURE_SSL_REDIRECT": "0",
            "STATIC_MANIFEST": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "VAR_DIR": str(tmp_path / "var"),
            "STREAM_SOCKET": str(socket_path),
            "MARKET_DATA_PROVIDER": "simulated",
            "PYTHONUNBUFFERED": "1",
            **environment,
        }
        if "REDIS_URL" not in environment:
            env.pop("REDIS_URL", None)
        log_path = tmp_path / f"sse-{port}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.clocked", "uvicorn", "config.asgi:application"]
                + ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        site = SseSite(port, process, log_path, socket_path)
        started.append(site)

        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"uvicorn exited:\n{site.log()}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, seconds=60, what="uvicorn to listen")
        return site

    yield start
    for site in started:
        site.process.terminate()
        try:
            site.process.wait(10)
        except subprocess.TimeoutExpired:
            site.process.kill()


class Stream:
    """One /stream/ request over a raw socket: its status, then its events one by one (the
    chunked body read as uvicorn sends it)."""

    def __init__(self, status: int, body: bytes, reader, writer) -> None:
        self.status = status
        self.body = body  # a refusal's text
        self.reader = reader
        self.writer = writer
        self.buffer = b""
        self.ended = False

    async def _chunk(self) -> bytes:
        size_line = await self.reader.readline()
        if not size_line:
            return b""
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            return b""
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def event(self, timeout: float) -> bytes | None:
        """The next event (its comment lines included), or None at the end of the stream."""
        while b"\n\n" not in self.buffer:
            if self.ended:
                return None
            chunk = await asyncio.wait_for(self._chunk(), timeout)
            if not chunk:
                self.ended = True
                return None
            self.buffer += chunk
        event, self.buffer = self.buffer.split(b"\n\n", 1)
        return event

    def close(self) -> None:
        self.writer.close()


async def open_stream(port: int, path: str, session_key: str | None = None) -> Stream:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    cookie = f"Cookie: sessionid={session_key}\r\n" if session_key else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
    writer.write(f"{request}{cookie}\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    status = int(head.split(b" ", 2)[1])
    body = b""
    if status != 200:
        body = await asyncio.wait_for(reader.read(65536), 30)
        writer.close()
    return Stream(status, body, reader, writer)
