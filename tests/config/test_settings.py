"""Settings come from the environment; production without a secret fails loudly."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "-production-like-secret-" + "y" * 30,
    "ALLOWED_HOSTS": "minerwatch.example.com",
    "DATABASE_URL": "",
    "REDIS_URL": "",
    "EMAIL_HOST": "smtp.example.com",
}


def run_manage(*args, env_overrides):
    env = {**os.environ, **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_without_secret_key_fails_loudly():
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG=0" in result.stderr


def test_check_deploy_is_clean_with_production_values():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_redis_url_switches_broker_results_and_cache():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND, s.CACHES['default']['BACKEND'], "
        "s.CACHES['default'].get('OPTIONS', {}).get('CLIENT_CLASS', '-'))"
    )
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/7"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == [
        "redis://127.0.0.1:6379/7",
        "redis://127.0.0.1:6379/7",
        "django_redis.cache.RedisCache",
        "config.breaker.BreakerClient",
    ]
    env.pop("REDIS_URL")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    broker, results, cache, _ = out.stdout.split()
    assert broker == "filesystem://localhost/"
    assert results.startswith("file://")
    assert cache == "django.core.cache.backends.filebased.FileBasedCache"
