"""A worker process for the fault tests: it starts a refresh whose provider call never returns,
after saying so on standard output (run as `python -m tests.faults.hanging_refresh [profiles]`:
a quotes refresh, or a profiles refresh)."""

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

    def _hang(self):
        print("fetching", flush=True)
        threading.Event().wait()  # until the process is killed

    def fetch_quotes(self, symbols):
        self._hang()

    def fetch_profiles(self, symbols):
        self._hang()


if __name__ == "__main__":
    if sys.argv[1:] == ["profiles"]:
        services.refresh_profiles(provider=HangingProvider(), force=True)
    else:
        services.refresh_quotes(provider=HangingProvider(), force=True)
    sys.exit("the refresh returned, which it never should")
