"""A worker process for the fault tests: it starts a quotes refresh whose provider call never
returns, after saying so on standard output (run as `python -m tests.faults.hanging_refresh`)."""

from __future__ import annotations

import os
import sys
import threading

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from market import services  # noqa: E402


class HangingProvider:
    name = "hanging"
    always_open = True

    def fetch_quotes(self, symbols):
        print("fetching", flush=True)
        threading.Event().wait()  # until the process is killed


if __name__ == "__main__":
    services.refresh_quotes(provider=HangingProvider(), force=True)
    sys.exit("the refresh returned, which it never should")
