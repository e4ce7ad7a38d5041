"""The sector as a whole: totals, the segments compared, and the day's movers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from market import analytics
from market.models import (
    MarketState,
    Miner,
)
from market.selectors.rows import InstrumentRow

MOVERS_COUNT = 5


@dataclass(frozen=True)
class SectorSummary:
    total: analytics.TotalChange
    pre_market: analytics.TotalChange | None
    post_market: analytics.TotalChange | None
    milestone: analytics.Milestone | None
    ytd_percent: Decimal | None
    count: int
    priced: int
    simulated: bool
    data_as_of: dt.datetime | None


def _ytd_of(rows: Iterable[InstrumentRow]) -> Decimal | None:
    """Cap-weighted YTD: today's caps over the caps at the YTD base, of rows that have both."""
    now = Decimal(0)
    base = Decimal(0)
    for row in rows:
        cap, base_cap = row.market_cap, row.ytd_base_cap
        if cap is not None and base_cap is not None:
            now += cap
            base += base_cap
    return analytics.change_percent(now, base) if base > 0 else None


def sector_summary(rows: Sequence[InstrumentRow], session_state: str) -> SectorSummary:
    """Total market cap of the miners (benchmarks excluded), today's change, the extended-hours
    change while it trades, the next milestone and the freshness of the quotes."""
    miners = [r for r in rows if not r.is_benchmark]
    total = analytics.total_change((r.market_cap, r.cap_change) for r in miners)

    def extended(change_of) -> analytics.TotalChange | None:
        moves = [(r.market_cap, change_of(r)) for r in miners if change_of(r) is not None]
        if not moves:
            return None
        # The extended-hours move is measured from the regular session's total.
        change = sum((c for _, c in moves), Decimal(0))
        base = total.total
        return analytics.TotalChange(
            base + change, change, change / base * analytics.HUNDRED if base > 0 else None
        )

    fetched = [r.quote["fetched_at"] for r in miners if r.quote]
    return SectorSummary(
        total=total,
        pre_market=extended(lambda r: r.pre_market_cap_change)
        if session_state == MarketState.PRE
        else None,
        post_market=extended(lambda r: r.post_market_cap_change)
        if session_state == MarketState.POST
        else None,
        milestone=analytics.next_milestone(
            total.total if total.total > 0 else None, settings.SECTOR_MILESTONES
        ),
        ytd_percent=_ytd_of(miners),
        count=len(miners),
        priced=len(fetched),
        simulated=any(r.simulated for r in miners),
        data_as_of=max(fetched) if fetched else None,
    )


@dataclass(frozen=True)
class SegmentFigures:
    segment: str
    label: str
    count: int
    market_cap: Decimal
    share_percent: Decimal | None
    day_percent: Decimal | None
    ytd_percent: Decimal | None
    hpc_contracted_mw: Decimal
    symbols: list[str]


def segment_comparison(rows: Sequence[InstrumentRow]) -> list[SegmentFigures]:
    """Market cap, day % and YTD % per segment (cap-weighted), in the segments' order."""
    miners = [r for r in rows if not r.is_benchmark]
    sector_cap = sum((r.market_cap or Decimal(0) for r in miners), Decimal(0))
    figures = []
    for segment, label in Miner.Segment.choices:
        members = [r for r in miners if r.segment == segment]
        if not members:
            continue
        members.sort(key=lambda r: r.market_cap or Decimal(0), reverse=True)
        total = analytics.total_change((r.market_cap, r.cap_change) for r in members)
        figures.append(
            SegmentFigures(
                segment=segment,
                label=label,
                count=len(members),
                market_cap=total.total,
                share_percent=total.total / sector_cap * analytics.HUNDRED
                if sector_cap > 0
                else None,
                day_percent=total.percent,
                ytd_percent=_ytd_of(members),
                hpc_contracted_mw=sum(
                    (r.hpc_contracted_mw or Decimal(0) for r in members), Decimal(0)
                ),
                symbols=[r.symbol for r in members],
            )
        )
    return figures


@dataclass(frozen=True)
class MoverList:
    pre_market: bool
    gainers: list[InstrumentRow]
    losers: list[InstrumentRow]


def movers(rows: Sequence[InstrumentRow], session_state: str) -> MoverList:
    """Top gainers and losers today; by pre-market change while pre-market trades."""
    miners = [r for r in rows if not r.is_benchmark]
    pre = session_state == MarketState.PRE and any(
        r.quote and r.quote["pre_market_change_percent"] is not None for r in miners
    )
    if pre:
        result = analytics.movers(
            miners,
            key=lambda r: r.quote["pre_market_change_percent"] if r.quote else None,
            count=MOVERS_COUNT,
        )
    else:
        result = analytics.movers(miners, key=lambda r: r.change_percent, count=MOVERS_COUNT)
    return MoverList(pre, result.gainers, result.losers)
