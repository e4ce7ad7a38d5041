"""`make run`'s process runner: a stop reaches each process itself (a Celery worker stops its
own pool), and a requested stop exits 0 (no "make: *** Error 130")."""

from __future__ import annotations

import io
import sys
import time

from config.devserver import Runner, read_procfile

# Stops cleanly on SIGTERM after saying so, like a worker's warm shutdown.
GRACEFUL = (
    f'{sys.executable} -c "import signal, sys, time; '
    "signal.signal(signal.SIGTERM, lambda *a: (print('warm shutdown', flush=True), sys.exit(0))); "
    "print('ready', flush=True); time.sleep(60)\""
)


def test_read_procfile(tmp_path):
    procfile = tmp_path / "Procfile.dev"
    procfile.write_text("# comment\nweb: python manage.py runserver\n\nworker: celery worker\n")
    assert read_procfile(procfile) == [
        ("web", "python manage.py runserver"),
        ("worker", "celery worker"),
    ]


def test_a_requested_stop_lets_each_process_stop_itself_and_exits_0():
    out = io.StringIO()
    runner = Runner([("worker", GRACEFUL), ("beat", GRACEFUL)], out=out)
    runner.start()

    deadline = time.monotonic() + 20
    while out.getvalue().count("| ready") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()
    assert runner.wait() == 0
    text = out.getvalue()
    assert text.count("| warm shutdown") == 2
    assert "killed" not in text
    assert all(p.returncode == 0 for p in runner.processes.values())


def test_a_process_that_dies_stops_the_others_and_fails():
    out = io.StringIO()
    runner = Runner(
        [("web", f"{sys.executable} -c 'raise SystemExit(3)'"), ("beat", GRACEFUL)], out=out
    )
    runner.start()
    assert runner.wait() == 3
