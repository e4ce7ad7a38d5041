"""`make run`: the processes of Procfile.dev in the foreground, their output interleaved, and a
clean stop on Ctrl-C.

Like honcho, but a stop sends SIGTERM to each process itself, not to its process group: the
Celery worker then finishes or hands back its running tasks and stops its own pool, instead of
its pool processes being killed under it. A stop asked for with Ctrl-C (or SIGTERM) waits up to
STOP_SECONDS for every process, then exits 0.

    python -m config.devserver Procfile.dev
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

STOP_SECONDS = float(os.environ.get("DEVSERVER_STOP_SECONDS", "30"))
COLOURS = ["36", "33", "35", "32", "34", "31"]


def read_procfile(path: Path) -> list[tuple[str, str]]:
    """(name, command) for every "name: command" line; comments and blank lines skipped."""
    entries = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        entries.append((name.strip(), command.strip()))
    return entries


class Runner:
    def __init__(self, entries: list[tuple[str, str]], out=sys.stdout):
        self.entries = entries
        self.out = out
        self.width = max(len(name) for name, _ in entries) if entries else 0
        self.processes: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def say(self, name: str, text: str, colour: str = "0") -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        prefix = f"{stamp} {name.ljust(self.width)} |"
        if getattr(self.out, "isatty", lambda: False)():
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self.lock:
            self.out.write(f"{prefix} {text}\n")
            self.out.flush()

    def start(self) -> None:
        for index, (name, command) in enumerate(self.entries):
            process = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {command}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop them in order
                text=True,
                errors="replace",
            )
            self.processes[name] = process
            colour = COLOURS[index % len(COLOURS)]
            threading.Thread(target=self._relay, args=(name, process, colour), daemon=True).start()
            self.say("system", f"{name} started (pid {process.pid})")

    def _relay(self, name: str, process: subprocess.Popen, colour: str) -> None:
        for line in process.stdout:
            self.say(name, line.rstrip("\n"), colour)

    def stop(self, *_args) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        for name, process in self.processes.items():
            if process.poll() is None:
                self.say("system", f"stopping {name}")
                process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        """Until every process has stopped; 0 after a requested stop, else the first failure."""
        first_exit: int | None = None
        while any(p.poll() is None for p in self.processes.values()):
            if not self.stopping.is_set():
                ended = [p for p in self.processes.values() if p.poll() is not None]
                if ended:  # one stopped by itself: stop the others too
                    first_exit = ended[0].returncode
                    self.stop()
            time.sleep(0.1)
            if self.stopping.is_set() and time.monotonic() > self._deadline():
                for name, process in self.processes.items():
                    if process.poll() is None:
                        self.say("system", f"{name} did not stop in {STOP_SECONDS:.0f} s: killed")
                        os.killpg(process.pid, signal.SIGKILL)
        for name in self.processes:
            self.say("system", f"{name} stopped")
        return 0 if first_exit is None else (first_exit or 1)

    def _deadline(self) -> float:
        if not hasattr(self, "_stop_started"):
            self._stop_started = time.monotonic()
        return self._stop_started + STOP_SECONDS


def main(argv: list[str]) -> int:
    runner = Runner(read_procfile(Path(argv[1] if len(argv) > 1 else "Procfile.dev")))
    signal.signal(signal.SIGINT, runner.stop)
    signal.signal(signal.SIGTERM, runner.stop)
    runner.start()
    return runner.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
