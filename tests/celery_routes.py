"""Send some of the app's tasks to the queue of a test's own worker (tests/conftest.py's
celery_worker_process), the way production routes them: by task name."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def routed_to(queue: str, *task_names: str):
    from config.celery import app

    before = app.conf.task_routes
    # conf.update (not assignment) makes Celery rebuild its router.
    app.conf.update(task_routes={name: {"queue": queue} for name in task_names})
    try:
        yield
    finally:
        app.conf.update(task_routes=before)
