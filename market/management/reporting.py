"""What the market commands print: a text progress bar on stderr and a one-line run summary."""

from __future__ import annotations

import sys
from typing import TextIO

from market.models import Instrument, RefreshRun


class ProgressBar:
    """Call it with (done, total); it redraws one line: `label [#########.........]  9/20`."""

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        if total <= 0 or (done, total) == self._last:
            return
        self._last = (done, total)
        filled = round(self.width * min(done, total) / total)
        bar = "#" * filled + "." * (self.width - filled)
        digits = len(str(total))
        self.stream.write(f"\r{self.label} [{bar}] {done:>{digits}}/{total}")
        self.stream.flush()

    def close(self) -> None:
        if self._last is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._last = None


def run_summary(run: RefreshRun, noun: str = "instruments") -> str:
    """`ok: 23 instruments requested, 23 stored, 0 failed in 31 ms (run #5)` and the reason."""
    if run.status == RefreshRun.Status.SKIPPED:
        return f"{run.get_kind_display()}: skipped ({run.error_text.removeprefix('skipped: ')})"
    extras = "".join(
        f", {value:,} {name.replace('_', ' ')}"
        for name, value in (run.details or {}).items()
        if isinstance(value, int) and not isinstance(value, bool)
    )
    noun = noun if run.requested_count != 1 else noun.removesuffix("s")
    line = (
        f"{run.get_kind_display()}: {run.status}, {run.requested_count} {noun} requested, "
        f"{run.stored_count} stored, {run.error_count} failed{extras} "
        f"in {run.duration_ms or 0:,} ms (run #{run.pk})"
    )
    if run.error_text:
        line += f"\n  {run.error_text}"
    for symbol, error in sorted((run.errors or {}).items())[:20]:
        line += f"\n  {symbol}: {error}"
    return line


def unknown_symbols(symbols: list[str] | None) -> list[str]:
    """The given symbols that are not instruments (a command refuses them up front)."""
    if not symbols:
        return []
    wanted = {symbol.strip().upper() for symbol in symbols}
    known = set(Instrument.objects.filter(symbol__in=wanted).values_list("symbol", flat=True))
    return sorted(wanted - known)
