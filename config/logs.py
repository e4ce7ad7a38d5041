"""The logging setup: one line per record, and which libraries' records are left out."""


def logging_config(level: str) -> dict:
    """Django's LOGGING for a root `level` (the LOG_LEVEL setting)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "filters": {"every_30s": {"()": "config.log_filters.OncePerInterval", "seconds": 30}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # One line per outage, not one per cache call.
            "minerwatch.cache": {"filters": ["every_30s"]},
            # One line per request comes from config.middleware, one per task from config.celery;
            # runserver's and Celery's own per-request and per-task lines would repeat them.
            "django.server": {"level": "ERROR"},
            # django.request warns about every 4xx, a refused form (422) included: the request line
            # already says it. Its 5xx errors, with their tracebacks, still come through.
            "django.request": {"level": "ERROR"},
            "celery.app.trace": {"level": "WARNING"},
            "celery.worker.strategy": {"level": "WARNING"},
            # yfinance warns about every failed cookie fetch; a failed run is logged once by
            # market.outage instead.
            "yfinance": {"level": "ERROR"},
            "peewee": {"level": "WARNING"},
        },
    }
