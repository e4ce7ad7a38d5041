"""Real services for the fault tests, started by the tests on ports of their own: a Redis server,
a listener that accepts connections and never answers, the site under gunicorn."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, *, seconds: float, what: str):
    """Poll `condition` until it is true (its value is returned) or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting {seconds} s for {what}")
        time.sleep(0.05)


class SilentListener:
    """Accepts TCP connections and never says a word: a database or a Redis that hangs."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        self.socket.close()
        for connection in self.held:
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_breakers():
    """Each test starts with no circuit breaker open, and leaves no probe running."""
    from config.breaker import forget_breakers

    forget_breakers()
    yield
    forget_breakers()


@pytest.fixture
def silent_listener():
    listener = SilentListener()
    yield listener
    listener.close()


class RedisServer:
    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.process = process
        self.url = f"redis://127.0.0.1:{port}/0"

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis.from_url(self.url, **kwargs)

    def pause(self, milliseconds: int) -> None:
        """CLIENT PAUSE ... ALL: every client's commands wait (UNPAUSE would wait too)."""
        self.client().execute_command("CLIENT", "PAUSE", milliseconds, "ALL")

    def answers(self) -> bool:
        try:
            return bool(self.client(socket_timeout=0.2, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of the test's own, on a free port, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(port, process)
    try:
        wait_until(server.answers, seconds=10, what="redis-server to start")
        yield server
    finally:
        process.kill()
        process.wait(10)


@pytest.fixture
def breaker_cache(settings, redis_server):
    """The site's cache on the test's own Redis, through django-redis and the circuit breaker,
    with short timeouts: what production runs, on a Redis the test may pause."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {
                "CLIENT_CLASS": "config.breaker.BreakerClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "BREAKER_PROBE_SECONDS": 0.2,
                "BREAKER_RECOVERY": "config.versions.forget_all",
            },
        }
    }
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    settings.REDIS_URL = redis_server.url  # what /healthz checks as the cache
    settings.HEALTHZ_TIMEOUT = 1.0
    from django.core.cache import cache

    cache.clear()
    return redis_server


class Site:
    def __init__(self, port: int, process: subprocess.Popen, log_path: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_site(tmp_path):
    """start_site(**environment): the site under gunicorn (DEBUG=0) on a free port."""
    started: list[Site] = []

    def start(**environment) -> Site:
        port = free_port()
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "fault-tests-only",
            "SECURE_SSL_REDIRECT": "0",
            "STATIC_MANIFEST": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "VAR_DIR": str(tmp_path / "var"),
            "MARKET_DATA_PROVIDER": "simulated",
            "PYTHONUNBUFFERED": "1",
            **environment,
        }
        if "REDIS_URL" not in environment:
            env.pop("REDIS_URL", None)  # the file-system broker and cache under VAR_DIR
        log_path = tmp_path / f"site-{port}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.clocked",
                    "gunicorn",
                    "config.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        site = Site(port, process, log_path)
        started.append(site)

        def listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{site.log()}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, seconds=60, what="gunicorn to listen")
        return site

    yield start
    for site in started:
        site.process.terminate()
        try:
            site.process.wait(10)
        except subprocess.TimeoutExpired:
            site.process.kill()
