"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in every app."""

import logging
import os
import time

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("minerwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping")
def ping(value: str = "pong") -> str:
    """A no-op task that proves a worker is consuming from the broker."""
    return value


# One log line per task with its timing: `task market.refresh_quotes [id] SUCCESS 84.2ms`.
_task_log = logging.getLogger("minerwatch.tasks")
_task_started: dict[str, float] = {}


@task_prerun.connect
def _task_started_at(task_id=None, **kwargs) -> None:
    _task_started[task_id] = time.perf_counter()


@task_postrun.connect
def _log_task_line(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _task_started.pop(task_id, None)
    elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else float("nan")
    level = logging.INFO if state in {"SUCCESS", "RETRY"} else logging.WARNING
    name = getattr(task, "name", "?")
    _task_log.log(level, "task %s [%s] %s %.1fms", name, task_id, state, elapsed_ms)
