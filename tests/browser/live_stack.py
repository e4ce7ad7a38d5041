"""A real Minerwatch deployment on this machine: gunicorn, a Celery worker and beat, on a fresh
PostgreSQL database and Redis, with the simulated provider, on free loopback ports.

Used by the browser tests and by bench/load.py. Production settings (DEBUG=0, hashed static files
collected the way a deploy does), except that it speaks plain HTTP on 127.0.0.1. It empties the
Redis database it is given when it starts.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    """Drop and create the database `url` names (its server must be PostgreSQL)."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class LiveStack:
    """Start with `start()`, stop with `stop()` (or use it as a context manager)."""

    database_url: str
    redis_url: str
    work_dir: Path
    # None: gunicorn's config decides (WEB_CONCURRENCY, else from the number of cores).
    web_workers: int | None = 2
    celery_concurrency: int = 1
    run_beat: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # Settings come from here, not from whatever the caller's shell had; GUNICORN_* from
            # the caller still tune the server (bench/load.py experiments).
            if not key.startswith(("DJANGO_", "CELERY_", "PYTEST_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DEBUG": "0",
                "SECRET_KEY": self._secret_key,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "MARKET_DATA_PROVIDER": "simulated",
                "VAR_DIR": str(self.work_dir / "var"),
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.web_workers is not None:
            env["WEB_CONCURRENCY"] = str(self.web_workers)
        env.update(self.extra_env)
        return env

    def __post_init__(self):
        self._secret_key = "live-stack-" + secrets.token_urlsafe(40)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        return self.work_dir / f"{name}.log"

    def log(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name in ("setup", "web", "worker", "beat"):
            text = self.log(name).splitlines()[-lines:]
            if text:
                parts.append(f"--- {name}.log (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(parts)

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run a management command against the stack's database; its output, or an error."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        with self.log_path("setup").open("a") as log:
            log.write(f"$ manage.py {' '.join(args)}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{output}")
        return result.stdout

    def prepare(self) -> None:
        """A fresh database with the schema, the universe, five years of daily bars and a first
        quotes refresh (so the first page already has prices); static files collected."""
        recreate_database(self.database_url)
        self.manage("migrate", "--no-input")
        self.manage("load_universe")
        self.manage("collectstatic", "--no-input", "-v", "0")
        self.manage("backfill_bars")
        self.manage("refresh_quotes", "--force")
        self._empty_redis()

    def _empty_redis(self) -> None:
        # The stack owns its Redis database: tasks queued by an earlier run must not reach the
        # new worker, and rate-limit counters (sign-ups per address) must start from zero.
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()

    def _spawn(self, name: str, command: list[str]) -> None:
        log = self.log_path(name).open("a")
        self.processes[name] = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start(self, *, prepare: bool = True, wait: float = 60) -> LiveStack:
        if prepare:
            self.prepare()
        self.port = self.port or free_port()
        self.serve("web", "config.wsgi", self.port)
        suffix = secrets.token_hex(4)
        self._spawn(
            "worker",
            [
                sys.executable,
                "-m",
                "tests.clocked",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.celery_concurrency}",
                "-n",
                f"live-{suffix}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )
        if self.run_beat:
            self._spawn(
                "beat",
                [
                    sys.executable,
                    "-m",
                    "tests.clocked",
                    "celery",
                    "-A",
                    "config",
                    "beat",
                    "--loglevel=INFO",
                    f"--schedule={self.work_dir / 'celerybeat-schedule'}",
                    f"--pidfile={self.work_dir / 'celerybeat.pid'}",
                ],
            )
        self.wait_until_healthy(wait)
        return self

    def serve(self, name: str, wsgi_module: str, port: int) -> None:
        """Start gunicorn, with the site's configuration, serving `wsgi_module` on `port`."""
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "tests.clocked",
                "gunicorn",
                "-c",
                "config/gunicorn.py",
                "--bind",
                f"127.0.0.1:{port}",
                wsgi_module,
            ],
        )

    def wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {process.returncode}\n{self.log_tails()}"
                    )
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last_error = str(exc)
            time.sleep(0.3)
        raise RuntimeError(f"the stack did not become healthy: {last_error}\n{self.log_tails()}")

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self, *, drop: bool = True) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()
        if drop:
            drop_database(self.database_url)

    def __enter__(self) -> LiveStack:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
