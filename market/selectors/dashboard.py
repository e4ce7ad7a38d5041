"""The sector dashboard's data in one object."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from functools import cached_property

from django.utils import timezone

from market import sessions
from market.presentation import miners_table, sort_rows
from market.selectors.cache import cache_key, cached_on_token
from market.selectors.freshness import (
    RefreshState,
    current_tokens,
    latest_quotes_run,
    miners_quoted_at,
    stale_after,
)
from market.selectors.history import (
    DEFAULT_SECTOR_RANGE,
    SECTOR_RANGE_KEYS,
    History,
    sector_history,
)
from market.selectors.rows import InstrumentRow, instrument_rows
from market.selectors.sector import (
    MoverList,
    SectorSummary,
    SegmentFigures,
    movers,
    sector_summary,
    segment_comparison,
)
from market.selectors.stats import instrument_stats

# Rendered dashboard fragments are keyed on the market token, so a change renders them again at
# once; this only bounds how long unused ones take up room in the cache.
FRAGMENT_SECONDS = 600


class Dashboard:
    """Everything the dashboard shows. The freshness of the data costs two queries (the latest
    quotes run, the newest miner quote) and the tokens one cache read; the rest is computed only
    when a fragment is not in the cache (one query for the rows, and the bar statistics when
    their cache is cold)."""

    def __init__(
        self,
        *,
        sort: str | None,
        segment: str | None,
        history_range: str | None,
        now: dt.datetime | None = None,
    ):
        self.now = now or timezone.now()
        self.sort = sort
        self.segment = segment or ""
        self.history_range = (
            history_range if history_range in SECTOR_RANGE_KEYS else DEFAULT_SECTOR_RANGE
        )
        self.tokens = current_tokens(self.now)
        self.session = sessions.session_info(self.now)
        # The last quotes run and the newest quote change only with the market token (a run
        # that starts changes nothing the pages show): read once per token, not per page.
        last_run, data_as_of = cached_on_token(
            self.tokens.market,
            "refresh-state",
            (),
            lambda: (latest_quotes_run(), miners_quoted_at()),
            FRAGMENT_SECONDS,
        )
        self.refresh = RefreshState(
            last_run, data_as_of, self.now, stale_after(self.session.is_open)
        )

    @property
    def fragment_seconds(self) -> int:
        """How long the page's fragments are kept: not at all when the cache did not answer
        the token read, since a fragment rendered then could not be told from an older one."""
        return FRAGMENT_SECONDS if self.tokens.market else 0

    @property
    def fragment_key(self) -> str:
        """The cache key part shared by the page's fragments: the market token (which every
        bars change replaces too), the market day, the session state and the query
        parameters."""
        return cache_key(
            "fragments",
            self.tokens.market,
            self.tokens.market_date.isoformat(),
            str(self.session.state),
            str(self.sort),
            self.segment,
            self.history_range,
        )

    @cached_property
    def rows(self) -> list[InstrumentRow]:
        return instrument_rows(instrument_stats(self.tokens))

    @cached_property
    def summary(self) -> SectorSummary:
        return sector_summary(self.rows, self.session.state)

    @cached_property
    def table(self) -> list[InstrumentRow]:
        return miners_table(self.rows, sort=self.sort, segment=self.segment)

    @cached_property
    def benchmarks(self) -> list[InstrumentRow]:
        return sort_rows([r for r in self.rows if r.is_benchmark], "symbol")

    @cached_property
    def segments(self) -> list[SegmentFigures]:
        return segment_comparison(self.rows)

    @cached_property
    def movers(self) -> MoverList:
        return movers(self.rows, self.session.state)

    @cached_property
    def history(self) -> History:
        live_total = None
        if not SECTOR_RANGE_KEYS[self.history_range].intraday:
            live_total = self.summary.total.total
        return sector_history(self.history_range, self.tokens, live_total)

    @cached_property
    def segment_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for row in self.rows:
            if not row.is_benchmark:
                counts[row.segment] += 1
        return dict(counts)


def dashboard(
    *, sort: str | None, segment: str | None, history_range: str | None, now=None
) -> Dashboard:
    """The dashboard's data: 2 queries when its fragments are cached, at most 6 cold."""
    return Dashboard(sort=sort, segment=segment, history_range=history_range, now=now)
