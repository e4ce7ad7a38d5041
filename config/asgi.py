"""The ASGI application: what uvicorn serves (`uvicorn config.asgi:application`).

Pages behave as under WSGI; the live prices stream (/stream/) is an async view, so a held
server-sent events connection costs an idle coroutine rather than a worker thread.

Django runs each request's thread-sensitive work (sync middleware, the ORM called from async
code) in a thread of that request's own, kept until the request ends: for a stream held an
hour, a thread held an hour, thousands at a time. The streams share one thread for that work
instead (it only runs while a stream opens and closes); pages keep Django's default.
"""

import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

from django.urls import reverse  # noqa: E402 (after Django is set up)

STREAM_PATH = reverse("live_stream")
# Thread-sensitive work runs one call at a time on one thread (asgiref's rule for an executor).
_streams_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streams")


async def application(scope, receive, send):
    if scope["type"] == "http" and scope.get("path") == STREAM_PATH:
        async with ThreadSensitiveContext(executor=_streams_thread):
            await django_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
