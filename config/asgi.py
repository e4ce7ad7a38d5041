"""The ASGI application: what uvicorn serves (`uvicorn config.asgi:application`).

Pages behave as under WSGI; the live prices stream (/stream/) is an async view, so a held
server-sent events connection costs an idle coroutine rather than a worker thread.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
