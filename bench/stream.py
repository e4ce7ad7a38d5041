"""Live prices bench: ticks from a local streamer replay to SSE clients, through the real processes.

    uv run python bench/stream.py             # 500 instruments, 10 ticks/s, 5,000 SSE clients
    uv run python bench/stream.py --smoke     # tiny sizes, no budgets (CI)
    uv run python bench/stream.py --database-url postgres://… --redis-url redis://…

It starts, on a throwaway SQLite database under var/bench-stream/ (or the given PostgreSQL and
Redis): a local websocket server replaying Yahoo's frame format, `manage.py stream_quotes
--provider yahoo` pointed at it (YAHOO_STREAM_URL) and uvicorn serving config.asgi. Then:

1. load: N instruments tick R times a second in total while C SSE clients hold streams open (a
   tenth watch every instrument, like the dashboard; the rest ten each, like a watchlist). Each
   pushed event carries the wall-clock time its first tick's frame reached the streamer; the
   client's receive time minus that is the frame-to-event latency (an upper bound of "event
   leaving": it includes loopback delivery). It prints p50/p99 (budget p99 <= 500 ms), quote
   rows and statements written per second, and the web process's RSS (budget <= 1 GB) and CPU
   while it holds the clients (all from one address: the per-address cap is raised for it).
2. session: the first 25 instruments tick once a second each (a replayed trading session of the
   universe) and /status/ is read every second; it prints the p50 of the streamed quotes' median
   price age the page shows (budget p50 <= 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench-stream"
sys.path.insert(0, str(BASE_DIR))


def setup(database_url: str | None, redis_url: str | None) -> dict[str, str]:
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(BENCH_DIR),
            "DEBUG": "0",
            "SECRET_KEY": "bench-stream-not-a-secret",
            "STATIC_MANIFEST": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "STREAM_WATCHDOG_SECONDS": "600",
            # Every bench client comes from 127.0.0.1.
            "STREAM_MAX_PER_ADDRESS": "1000000",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    os.environ.update(env)
    for key in ("DATABASE_URL", "REDIS_URL"):
        if key not in env:
            os.environ.pop(key, None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    import django

    django.setup()
    return env


def make_instruments(count: int) -> list[str]:
    from market.models import Instrument, Quote

    Quote.objects.all().delete()
    Instrument.objects.all().delete()
    symbols = [f"B{n:03d}" for n in range(count)]
    old = datetime(2025, 1, 2, 15, tzinfo=UTC)
    instruments = Instrument.objects.bulk_create(
        [
            Instrument(symbol=s, name=f"Bench {s}", kind="crypto", shares_outstanding=10**8)
            for s in symbols
        ]
    )
    Quote.objects.bulk_create(
        [
            Quote(instrument=i, price=50, previous_close=50, fetched_at=old, provider_time=old)
            for i in instruments
        ]
    )
    return symbols


class Replay:
    """The local streamer: sends ticks to every connected client at a steady rate."""

    def __init__(self) -> None:
        self.clients: set = set()
        self.prices: dict[str, float] = {}
        self.sent = 0

    async def start(self) -> str:
        from websockets.asyncio.server import serve

        async def handler(ws):
            self.clients.add(ws)
            try:
                async for _ in ws:
                    pass
            except Exception:
                pass
            finally:
                self.clients.discard(ws)

        self.server = await serve(handler, "127.0.0.1", 0)
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/?version=2"

    async def tick(self, symbols: list[str], rate: float, seconds: float) -> None:
        from market.providers.yahoo_stream import encode_frame

        rng = random.Random(1)
        interval, started = 1 / rate, time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            symbol = symbols[n % len(symbols)] if rate >= len(symbols) else rng.choice(symbols)
            price = self.prices.get(symbol, 50.0) * (1 + rng.gauss(0, 0.002))
            self.prices[symbol] = price
            frame = encode_frame(symbol, price, datetime.now(UTC), change=price - 50)
            for ws in list(self.clients):
                await ws.send(frame)
            self.sent += 1
            n += 1
            await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))


ARRIVED = re.compile(rb": arrived=([0-9.]+) left=([0-9.]+)\n")


async def sse_client(
    port: int,
    path: str,
    latencies: list[tuple[float, float]],
    opened: list[int],
    snapshots: list[int],
    stop,
):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    opened.append(1)
    buffer = b""
    try:
        while not stop.is_set():
            chunk = await reader.read(65536)
            if not chunk:
                break
            received = time.time()
            buffer += chunk
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                if b": snapshot" in event:
                    snapshots.append(1)
                match = ARRIVED.search(event + b"\n")
                if match and float(match.group(1)) > 0:
                    arrived, left = float(match.group(1)), float(match.group(2))
                    latencies.append((left - arrived, received - arrived))
    finally:
        writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def spawn(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_http(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            line = await reader.readline()
            writer.close()
            if b"200" in line or b"503" in line:
                return
        except OSError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError("the web process did not start")


def status_age(port: int) -> float | None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status/", timeout=30) as response:
        html = response.read().decode()
    match = re.search(r'id="streamed-age">([0-9.]+) s<', html)
    return float(match.group(1)) if match else None


async def run(args, env: dict, symbols: list[str]) -> None:
    from market.streaming.state import stream_state

    replay = Replay()
    env = dict(env, YAHOO_STREAM_URL=await replay.start())
    port = args.port
    web = spawn(
        env, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--no-access-log"
    )
    streamer = spawn(env, "manage.py", "stream_quotes", "--provider", "yahoo")
    try:
        await wait_http(port)
        deadline = time.monotonic() + 90
        while not replay.clients and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        # Session first (only these quotes are streamed yet): a universe-sized set, each
        # trading every second, while /status/ is read every second.
        session = symbols[: min(25, len(symbols))]
        ages: list[float] = []

        async def read_status():
            while True:
                await asyncio.sleep(1)
                age = await asyncio.to_thread(status_age, port)
                if age is not None:
                    ages.append(age)

        await replay.tick(session, len(session), 3)  # warm: every one of them streamed once
        reader = asyncio.create_task(read_status())
        await replay.tick(session, len(session), args.session_seconds)
        reader.cancel()
        print(
            f"session: {len(session)} instruments ticking once a second each for "
            f"{args.session_seconds:g} s; /status/ read every second"
        )
        print(
            f"  median price age of streamed quotes on /status/: p50 "
            f"{percentile(ages, 0.5):.2f} s, max {max(ages, default=float('nan')):.2f} s over "
            f"{len(ages)} reads" + ("" if args.smoke else "  (budget p50 <= 2 s)")
        )

        print(f"streamer connected; web pid {web.pid}; opening {args.clients} SSE clients")
        stop, latencies, opened, snapshots = asyncio.Event(), [], [], []
        rng = random.Random(2)
        tasks = []
        for n in range(args.clients):
            shown = symbols if n % 10 == 0 else rng.sample(symbols, min(10, len(symbols)))
            path = f"/stream/?v=row&s={','.join(shown)}"
            tasks.append(
                asyncio.create_task(sse_client(port, path, latencies, opened, snapshots, stop))
            )
            if n % 50 == 49:
                await asyncio.sleep(0.05)
        connect_started = time.monotonic()
        while len(snapshots) < args.clients:
            await asyncio.sleep(0.2)
        print(
            f"  {args.clients} streams open with their snapshots in "
            f"{time.monotonic() - connect_started:.1f} s"
        )
        await asyncio.sleep(args.settle)
        latencies.clear()
        process = psutil.Process(web.pid)
        state_before = stream_state() or {}
        cpu_before, started = process.cpu_times(), time.monotonic()
        rss = []

        async def sample_rss():
            while not stop.is_set():
                rss.append(process.memory_info().rss)
                await asyncio.sleep(1)

        sampler = asyncio.create_task(sample_rss())
        replay.sent = 0
        await replay.tick(symbols, args.rate, args.seconds)
        await asyncio.sleep(2 * float(env.get("STREAM_FLUSH_SECONDS", "1")) + 0.5)
        elapsed = time.monotonic() - started
        cpu_after = process.cpu_times()
        state_after = stream_state() or {}
        cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / elapsed
        writes = state_after.get("writes", 0) - state_before.get("writes", 0)
        stop.set()
        sampler.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        print(
            f"\nload: {len(symbols)} instruments, {replay.sent / args.seconds:.1f} ticks/s "
            f"for {args.seconds:g} s, {args.clients} SSE clients "
            f"({(args.clients + 9) // 10} on every instrument, the rest on 10 each)"
        )
        leaving = [pair[0] for pair in latencies]
        at_client = [pair[1] for pair in latencies]
        budget = "" if args.smoke else "  (budget p99 <= 500 ms)"
        print(
            f"  frame arriving -> SSE event leaving the web process: "
            f"p50 {percentile(leaving, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(leaving, 0.99) * 1000:.0f} ms over {len(leaving)} events{budget}"
        )
        print(
            f"  frame arriving -> SSE event read by the client: "
            f"p50 {percentile(at_client, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(at_client, 0.99) * 1000:.0f} ms"
        )
        flush = float(env.get("STREAM_FLUSH_SECONDS", "1"))
        statements = state_after.get("flushes", 0) - state_before.get("flushes", 0)
        print(
            f"  database: {writes / elapsed:.1f} quote rows/s written in "
            f"{statements / elapsed:.1f} upsert statements/s (each symbol at most once per "
            f"{flush:g} s)"
        )
        print(
            f"  web process holding the clients: RSS {max(rss, default=0) / 2**20:.0f} MB"
            + ("" if args.smoke else " (budget <= 1024 MB)")
            + f", CPU {cpu * 100:.0f}% of a core"
        )
        print(f"  machine load average (1, 5, 15 min) at the end: {os.getloadavg()}")
        try:
            load_age = await asyncio.to_thread(status_age, port)
        except OSError as exc:
            load_age = f"not read ({exc})"
        print(
            f"  /status/ streamed-quote age at the end: {load_age} s (each instrument ticks "
            f"every {len(symbols) / max(args.rate, 0.001):.0f} s on average at this rate)"
        )

    finally:
        for process in (streamer, web):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no budgets (CI)")
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--instruments", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0, help="ticks per second in total")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--session-seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.smoke:
        args.instruments, args.rate, args.clients = 20, 5.0, 10
        args.seconds, args.session_seconds, args.settle = 4.0, 4.0, 1.0
    if not args.port:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            args.port = sock.getsockname()[1]
    import resource

    # Each client is a socket in this process and in the web process: allow them all.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = setup(args.database_url, args.redis_url)
    symbols = make_instruments(args.instruments)
    asyncio.run(run(args, env, symbols))


if __name__ == "__main__":
    main()
