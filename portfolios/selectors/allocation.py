"""Exposure: how the value of one portfolio, or of all of an owner's, divides by segment,
country, market-cap tier and position."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from portfolios.models import Portfolio
from portfolios.selectors.positions import (
    AI_HPC_SEGMENTS,
    CAP_TIERS,
    HUNDRED,
    NO_TIER,
    SEGMENT_ORDER,
    ZERO,
    PositionRow,
    Positions,
    _build_positions,
    _holdings,
    portfolio_positions,
)


@dataclass
class Slice:
    key: str
    label: str
    value: Decimal
    weight: Decimal  # percent of the total
    symbols: list[str] = field(default_factory=list)


@dataclass
class Exposure:
    currency: str
    total_value: Decimal
    by_segment: list[Slice]
    by_country: list[Slice]
    by_tier: list[Slice]
    positions: list[Slice]  # one per instrument, largest first
    ai_hpc_weight: Decimal | None
    ai_hpc_value: Decimal
    unpriced: list[str] = field(default_factory=list)

    @property
    def largest(self) -> Slice | None:
        return self.positions[0] if self.positions else None

    @property
    def top3(self) -> list[Slice]:
        return self.positions[:3]

    @property
    def top3_weight(self) -> Decimal | None:
        if not self.positions or not self.total_value:
            return None
        return sum((s.value for s in self.top3), ZERO) / self.total_value * HUNDRED

    @property
    def is_empty(self) -> bool:
        return not self.positions


def _slices(
    rows: list[PositionRow], key, label, total: Decimal, order: list[str] | None = None
) -> list[Slice]:
    groups: dict[str, Slice] = {}
    for row in rows:
        k = key(row)
        slice_ = groups.setdefault(k, Slice(k, label(row), ZERO, ZERO))
        slice_.value += row.market_value
        if row.symbol not in slice_.symbols:
            slice_.symbols.append(row.symbol)
    for slice_ in groups.values():
        slice_.weight = slice_.value / total * HUNDRED if total else ZERO
    if order:
        return [groups[k] for k in order if k in groups]
    return sorted(groups.values(), key=lambda s: (-s.value, s.label))


def exposure_from_positions(positions: Positions) -> Exposure:
    priced = [r for r in positions.rows if r.market_value is not None]
    total = sum((r.market_value for r in priced), ZERO)
    segment_order = [k for k, _ in SEGMENT_ORDER]
    tier_order = [k for k, _, _ in CAP_TIERS] + [NO_TIER[0]]
    ai_value = sum((r.market_value for r in priced if r.segment in AI_HPC_SEGMENTS), ZERO)
    return Exposure(
        currency=positions.base_currency,
        total_value=total,
        by_segment=_slices(
            priced, lambda r: r.segment, lambda r: r.segment_label, total, segment_order
        ),
        by_country=_slices(priced, lambda r: r.country, lambda r: r.country_label, total),
        by_tier=_slices(priced, lambda r: r.tier, lambda r: r.tier_label, total, tier_order),
        positions=_slices(priced, lambda r: r.symbol, lambda r: r.instrument.name, total),
        ai_hpc_weight=ai_value / total * HUNDRED if total else None,
        ai_hpc_value=ai_value,
        unpriced=positions.unpriced,
    )


def exposure(owner, portfolio: Portfolio | None = None) -> Exposure:
    """Exposure of one portfolio (in its currency), or of all the owner's portfolios together
    (in US dollars, the same instrument in two portfolios counted as one position)."""
    if portfolio is not None:
        if portfolio.owner_id != owner.pk:
            raise Portfolio.DoesNotExist
        return exposure_from_positions(portfolio_positions(portfolio))
    holdings = list(_holdings().filter(portfolio__owner=owner))
    return exposure_from_positions(_build_positions(holdings, "USD"))
