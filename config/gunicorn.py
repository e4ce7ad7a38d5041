"""gunicorn settings (`gunicorn -c config/gunicorn.py config.wsgi`), all from the environment.

The application writes one line per request itself (config.middleware: method, path, status,
milliseconds), under runserver and gunicorn alike, so gunicorn's own access log is off unless
GUNICORN_ACCESS_LOG names a file (or `-` for standard output); its format then carries the time too.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# Heroku-style platforms hand the port in PORT; BIND wins when both are set.
bind = os.environ.get("BIND") or f"0.0.0.0:{_int('PORT', 8000)}"

# Pages are short database reads: a few synchronous workers per core, with threads so that a slow
# client or a CSV download does not hold a whole worker.
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 2)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so that a slow leak cannot grow without bound; not too often, since
# a fresh worker's first requests open connections and fill per-process caches.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 1000)
# Import the app once in the master: workers fork with Django already loaded (faster start, less
# memory); database connections are opened lazily in each worker, so nothing is shared.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in {"0", "false", "no"}

# Behind a proxy (a platform router or the nginx/Caddy in front), trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# remote address, request line, status, response bytes, duration in milliseconds
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
# The app's request lines go to the console log Django configures; keep gunicorn from adding a
# second handler to them.
capture_output = False

# gunicorn's runtime control socket lives at one fixed path per user by default; several servers on
# one host (web and a benchmark, say) would fight over it. Give it a path to turn it on.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


def when_ready(server):
    """Compile every template once in the master, before the first fork: with preload_app, each
    worker (and each recycled one) starts with Django's cached template loader already full
    instead of compiling the site's templates under its first requests."""
    if not preload_app:
        return
    from pathlib import Path

    from django.conf import settings
    from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines

    engine = engines["django"]
    compiled = 0
    for directory in settings.TEMPLATES[0]["DIRS"]:
        for path in sorted(Path(directory).rglob("*.html")):
            try:
                engine.get_template(str(path.relative_to(directory)))
            except (TemplateDoesNotExist, TemplateSyntaxError) as exc:
                server.log.warning("template %s not precompiled: %s", path, exc)
                continue
            compiled += 1
    server.log.info("precompiled %d templates", compiled)
