"""A real Celery worker consumes from the real broker and returns a task's result."""

import os

import pytest

from config.celery import app


def test_worker_returns_a_tasks_result(celery_worker_process):
    result = app.send_task("config.ping", args=["hello"], queue=celery_worker_process.queue)
    assert result.get(timeout=30) == "hello"
    assert "ready" in celery_worker_process.log()


@pytest.mark.redis
def test_worker_uses_the_redis_broker(celery_worker_process):
    assert app.conf.broker_url == os.environ["REDIS_URL"]
    result = app.send_task("config.ping", args=["via redis"], queue=celery_worker_process.queue)
    assert result.get(timeout=30) == "via redis"
    assert "redis://" in celery_worker_process.log()
