"""What a signed-in user has to do with one instrument, for its page: the position across their
portfolios (shares, average cost, P&L), the watchlists it is in and their alerts on it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from market.models import Instrument
from portfolios.models import Holding, PriceAlert, Watchlist
from portfolios.own_rows import own_rows

ZERO = Decimal(0)


@dataclass(frozen=True)
class PortfolioPosition:
    """One portfolio's holding of the instrument; money in the instrument's currency."""

    holding: Holding
    unrealized_pnl: Decimal | None

    @property
    def portfolio(self):
        return self.holding.portfolio


@dataclass(frozen=True)
class InstrumentPosition:
    currency: str
    price: Decimal | None
    positions: list[PortfolioPosition]
    all_watchlists: list[Watchlist]  # every one of the user's, each with `has_instrument`
    alerts: list[PriceAlert]

    @property
    def watchlists(self) -> list[Watchlist]:
        """The user's watchlists the instrument is on."""
        return [w for w in self.all_watchlists if w.has_instrument]

    @property
    def quantity(self) -> Decimal:
        return sum((p.holding.quantity for p in self.positions), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((p.holding.quantity * p.holding.average_cost for p in self.positions), ZERO)

    @property
    def average_cost(self) -> Decimal | None:
        return self.cost / self.quantity if self.quantity > 0 else None

    @property
    def unrealized_pnl(self) -> Decimal | None:
        if self.price is None or self.quantity <= 0:
            return None
        return self.quantity * self.price - self.cost

    @property
    def unrealized_pnl_percent(self) -> Decimal | None:
        pnl = self.unrealized_pnl
        return pnl / self.cost * 100 if pnl is not None and self.cost > 0 else None

    @property
    def realized_pnl(self) -> Decimal:
        return sum((p.holding.realized_pnl for p in self.positions), ZERO)

    @property
    def is_empty(self) -> bool:
        return not (self.positions or self.watchlists or self.alerts)


def instrument_position(user, instrument: Instrument) -> InstrumentPosition:
    """The user's holdings of it (open or with realized P&L), their watchlists (marked when it is
    on them; the page's "Add to watchlist" reuses them) and their alerts on it, from the user's
    rows kept under their token (portfolios.own_rows)."""
    quote = getattr(instrument, "quote", None) if hasattr(instrument, "quote") else None
    price = quote.price if quote is not None else None
    rows = own_rows(user)
    positions = [
        PortfolioPosition(
            holding=h,
            unrealized_pnl=(price - h.average_cost) * h.quantity
            if price is not None and h.quantity > 0
            else None,
        )
        for h in rows.holdings_of(instrument.pk)
    ]
    return InstrumentPosition(
        currency=(quote.currency if quote is not None and quote.currency else "")
        or instrument.currency,
        price=price,
        positions=positions,
        all_watchlists=rows.watchlists_marked(instrument.pk),
        alerts=rows.alerts_on(instrument.pk),
    )
