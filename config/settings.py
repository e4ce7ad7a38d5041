"""Minerwatch settings, every deploy-time value read from the environment.

Defaults serve a newcomer on one machine: SQLite, a file-system Celery broker and a file cache,
all under var/.
"""

import os
from pathlib import Path

import babel
import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.limits import *  # noqa: F403 (every per-user limit, config/limits.py)
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0.")
    SECRET_KEY = "django-insecure-local-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "market",
    "portfolios",
]

MIDDLEWARE = [
    "config.middleware.RequestLogMiddleware",
    # Control characters refused, Accept-Encoding cleaned, before anything reads the request.
    "config.inputs.RequestInputMiddleware",
    # Above the page cache, so that its pages say "private" too.
    "config.middleware.PrivateCacheControlMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # A page the browser kept and asks for again is answered 304 here, with the headers above
    # and without the session, CSRF, auth, messages and htmx middleware below.
    "config.conditional.RevalidateEarlyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.conditional.UserWritesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
            ],
        },
    }
]

# Database: SQLite under var/ unless DATABASE_URL says otherwise (postgres://user@host:5432/name).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the Celery worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that a Celery worker started by a test sees the test database.
    # Named per process so that two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that accepts connections but does not answer costs a request DB_CONNECT_TIMEOUT
    # seconds (then a 503), no statement runs longer than DB_STATEMENT_TIMEOUT_MS, and a
    # transaction left idle (its process busy elsewhere, holding its locks) is ended after
    # DB_IDLE_TRANSACTION_TIMEOUT_MS.
    _statement_timeout_ms = int(os.environ.get("DB_STATEMENT_TIMEOUT_MS", "30000"))
    _idle_timeout_ms = int(os.environ.get("DB_IDLE_TRANSACTION_TIMEOUT_MS", "60000"))
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": int(os.environ.get("DB_CONNECT_TIMEOUT", "2")),
        "options": f"-c statement_timeout={_statement_timeout_ms} "
        f"-c idle_in_transaction_session_timeout={_idle_timeout_ms}",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, when REDIS_URL is set, is the broker, the result backend and the cache.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that hangs costs one cache call this long, then the breaker skips Redis
            # until it answers a PING again and the version tokens are replaced
            # (config/breaker.py); meanwhile pages are served without the cache
            # (DJANGO_REDIS_IGNORE_EXCEPTIONS below).
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 1.0,
                "CLIENT_CLASS": "config.breaker.BreakerClient",
                "BREAKER_PROBE_SECONDS": 1.0,
                "BREAKER_RECOVERY": "config.versions.forget_all",
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A Redis that hangs holds a worker's publish or result write this long at most (longer than
    # the one-second BRPOP that waits for tasks).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 10, "socket_connect_timeout": 5}
    CELERY_REDIS_SOCKET_TIMEOUT = 10
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 5
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "broker"
    # The host is meaningless for the file-system transport, but kombu warns ("No hostname was
    # supplied") at every connection without one.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
    for _folder in (_broker_dir / "queue", _broker_dir / "control", VAR_DIR / "results"):
        _folder.mkdir(parents=True, exist_ok=True)

CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Times are UTC (CELERY_TIMEZONE). The quotes tick expires before the next one is sent, so a
# worker that was down does not replay a backlog of stale refreshes.
CELERY_BEAT_SCHEDULE: dict = {
    "market-refresh-quotes": {
        "task": "market.refresh_quotes",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # New instruments (a fresh install, a symbol added from a watchlist) get their history.
    "market-backfill-missing-bars": {
        "task": "market.backfill_missing_bars",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    # 22:15 UTC is 17:15 or 18:15 in New York: after the close, daylight saving or not.
    "market-update-bars": {"task": "market.update_bars", "schedule": crontab(hour=22, minute=15)},
    "market-refresh-profiles": {
        "task": "market.refresh_profiles",
        "schedule": crontab(hour=10, minute=30),
    },
    # Symbols users added and no longer hold, watch or alert on stop being refreshed.
    "portfolios-retire-unused-instruments": {
        "task": "portfolios.tasks.retire_unused_instruments",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Uploads waiting past PENDING_IMPORT_MINUTES and old budget counters are deleted.
    "portfolios-forget-expired-uploads": {
        "task": "portfolios.tasks.forget_expired_uploads",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    "market-prune-snapshots": {
        "task": "market.prune_snapshots",
        "schedule": crontab(hour=3, minute=30),
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Accounts (django-allauth): email and password, no username.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Failed sign-ins count per client address and per (account, address) (config/accounts.py), so
# that nobody can lock somebody else out; behind a proxy the client's address is read from the
# proxy's headers as the two settings below say.
ACCOUNT_ADAPTER = "config.accounts.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "20/5m/ip,5/5m/key",
    "signup": "20/h/ip",
}
# How many proxies append to X-Forwarded-For in front of the site (1 for one nginx or Caddy)...
ALLAUTH_TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# ...or the header a proxy sets to the client's address alone (e.g. X-Real-IP).
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER") or None
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

# Email: the console by default; SMTP when EMAIL_HOST is set.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": EMAIL_HOST,
                "port": int(os.environ.get("EMAIL_PORT", "587")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
del EMAIL_HOST
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Minerwatch <alerts@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
MARKET_TIME_ZONE = "America/New_York"
# How money, percentages and numbers are written (a Babel/CLDR locale: en_US, en_GB, de_DE, …).
NUMBER_LOCALE = os.environ.get("NUMBER_LOCALE", "en_US")
try:
    babel.Locale.parse(NUMBER_LOCALE)
except (ValueError, babel.UnknownLocaleError) as error:
    raise ImproperlyConfigured(f"NUMBER_LOCALE={NUMBER_LOCALE!r}: {error}") from None

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at start-up when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"

# Content Security Policy (Django's built-in): no inline script or style anywhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    # Every script is a file of our own (no inline code), so no nonce is needed, and a body the
    # browser reuses after a 304 cannot carry a stale one.
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Production hardening: on whenever DEBUG is off.
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Market data.
MARKET_DATA_PROVIDER = os.environ.get("MARKET_DATA_PROVIDER", "yahoo")
# Where the site is served, for links in emails (alerts).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# An HTTP(S) proxy for the provider's requests (e.g. http://proxy.internal:3128); empty: none.
MARKET_DATA_PROXY = os.environ.get("MARKET_DATA_PROXY", "")
# The simulated provider trades on New York's calendar and hours, like the pages' session; 1 makes
# its equities trade round the clock (load tests, browser tests at any hour).
SIMULATED_ALWAYS_OPEN = env_bool("SIMULATED_ALWAYS_OPEN", False)
# The live stream (python manage.py stream_quotes; see market/streaming/). A symbol's quote is
# written at most once per STREAM_FLUSH_SECONDS.
YAHOO_STREAM_URL = os.environ.get("YAHOO_STREAM_URL", "wss://streamer.finance.yahoo.com/?version=2")
STREAM_FLUSH_SECONDS = float(os.environ.get("STREAM_FLUSH_SECONDS", "1"))
STREAM_WATCHDOG_SECONDS = float(os.environ.get("STREAM_WATCHDOG_SECONDS", "60"))
STREAM_HEARTBEAT_SECONDS = float(os.environ.get("STREAM_HEARTBEAT_SECONDS", "15"))
STREAM_SYMBOLS_SECONDS = float(os.environ.get("STREAM_SYMBOLS_SECONDS", "30"))
STREAM_BACKOFF_SECONDS = float(os.environ.get("STREAM_BACKOFF_SECONDS", "1"))
STREAM_BACKOFF_MAX_SECONDS = float(os.environ.get("STREAM_BACKOFF_MAX_SECONDS", "60"))
SIMULATED_STREAM_SECONDS = float(os.environ.get("SIMULATED_STREAM_SECONDS", "2"))
# Without Redis, the streamer hands ticks to the web processes of this machine over this socket.
STREAM_SOCKET = os.environ.get("STREAM_SOCKET", str(VAR_DIR / "stream.sock"))
# Where pages open their server-sent events stream; "" turns live prices off (pages poll).
LIVE_STREAM_URL = os.environ.get("LIVE_STREAM_URL", "/stream/")
# Open streams each sse process holds at most per session and per client address (more are
# refused with 429 and those pages poll), how long one stays open at most (the browser opens it
# again), and how often one with private numbers re-reads its session from the database.
STREAM_MAX_PER_SESSION = int(os.environ.get("STREAM_MAX_PER_SESSION", "10"))
STREAM_MAX_PER_ADDRESS = int(os.environ.get("STREAM_MAX_PER_ADDRESS", "50"))
STREAM_MAX_SECONDS = float(os.environ.get("STREAM_MAX_SECONDS", "3600"))
STREAM_SESSION_CHECK_SECONDS = float(os.environ.get("STREAM_SESSION_CHECK_SECONDS", "5"))
# Sector market-cap milestones (USD) for the dashboard's "next milestone" progress bar.
SECTOR_MILESTONES = [
    int(float(v))
    for v in env_list("SECTOR_MILESTONES", "25e9,50e9,75e9,100e9,150e9,200e9,300e9,500e9")
]
# Snapshots older than this are pruned.
SNAPSHOT_RETENTION_DAYS = int(os.environ.get("SNAPSHOT_RETENTION_DAYS", "30"))
# When an instrument's market is closed, its quote is refreshed at most this often.
CLOSED_MARKET_REFRESH_MINUTES = int(os.environ.get("CLOSED_MARKET_REFRESH_MINUTES", "60"))
# A symbol the provider answers "unknown" (Yahoo: 404 "symbol may be delisted") for this many
# daily bars refreshes in a row is made inactive, keeping its data; an admin can reactivate it.
DELIST_AFTER_FAILURES = int(os.environ.get("DELIST_AFTER_FAILURES", "10"))
# Once the market data stops changing, a page's ETag changes this often, so that a body the
# browser reuses (304) shows relative times ("3 minutes ago") at most this old; anonymous
# visitors' shared pages are kept in the cache this long at most (config/conditional.py).
# Longer than the quotes refresh interval (60 s, with the run's own time on top), so that while
# quotes are refreshed a page is rendered again once per refresh, not also on the clock.
PAGE_ETAG_SECONDS = int(os.environ.get("PAGE_ETAG_SECONDS", "90"))
# Everything kept in the cache can be computed again (sessions are cached_db), so when Redis does
# not answer, a read is a miss and a write is skipped (django-redis), logged at most every
# 30 seconds per process (config/log_filters.py), instead of a server error on every page.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "minerwatch.cache"
# Sessions are read from the cache (Redis in production) and written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# How many instruments one user may add to the shared universe (symbols new to the site).
INSTRUMENTS_ADDED_PER_USER = int(os.environ.get("INSTRUMENTS_ADDED_PER_USER", "20"))
# /healthz waits at most this many seconds for its dependencies.
HEALTHZ_TIMEOUT = float(os.environ.get("HEALTHZ_TIMEOUT", "2"))
# CSV import size limit in bytes.
CSV_IMPORT_MAX_BYTES = int(os.environ.get("CSV_IMPORT_MAX_BYTES", str(5 * 1024 * 1024)))

LOGGING = logging_config(os.environ.get("LOG_LEVEL", "INFO"))  # config/logs.py
