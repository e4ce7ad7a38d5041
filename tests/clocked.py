"""Run a Python module on the test run's clock: `python -m tests.clocked celery -A config worker`.

When the run was moved with `--clock` (tests/clock.py), the offset from the real clock is in the
environment and this process travels by the same offset before it runs the module, so a worker and
the test that started it agree on the date. Without it, the module runs on the real clock.
"""

from __future__ import annotations

import datetime as dt
import os
import runpy
import sys

from tests.clock import OFFSET_ENV


def main() -> None:
    offset = os.environ.get(OFFSET_ENV)
    if offset:
        import time_machine

        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(offset))
        time_machine.travel(moment, tick=True).start()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
