"""The return and risk arithmetic on its own: XIRR against an independent solver, drawdowns,
beta and correlation."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from portfolios.performance import returns, risk
from portfolios.performance.returns import Point, Window

D = Decimal
START = dt.date(2020, 1, 1)


def bisection_xirr(flows: list[tuple[dt.date, Decimal]]) -> float:
    """Bisection on the NPV, sum(c / (1 + r) ** (days / 365)), written with g = ln(1 + r) so
    that heavy losses (r near -1) stay in reach: payments in, then one value out, give one
    root, where the NPV turns from negative to positive as g falls."""

    def npv(g: float) -> float:
        # Only the sign matters to the bisection: scale every term by the largest exponent so
        # that no exp() overflows, however far the bracket reaches.
        exponents = [-g * (d - START).days / 365 for d, _ in flows]
        top = max(exponents)
        return sum(float(c) * math.exp(e - top) for (_, c), e in zip(flows, exponents, strict=True))

    low, high = -1.0, 1.0
    while npv(high) > 0:
        high *= 2
    while npv(low) < 0:
        low *= 2
    for _ in range(300):
        middle = (low + high) / 2
        if npv(middle) > 0:
            low = middle
        else:
            high = middle
    return math.expm1((low + high) / 2)


schedules = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=1500),
        st.decimals(min_value=D("1"), max_value=D("100000"), places=2),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    payments=schedules,
    first=st.decimals(min_value=D("1"), max_value=D("100000"), places=2),
    growth=st.decimals(min_value=D("0.3"), max_value=D("3"), places=3),
    end=st.integers(min_value=1501, max_value=2500),
)
# A 70% loss in one day on nearly all the money: a return far below -99.9% a year.
@example(payments=[(1500, D("1.00"))], first=D("1.00"), growth=D("0.300"), end=1501)
def test_the_money_weighted_return_is_the_xirr_of_the_cash_flows(payments, first, growth, end):
    flows = [(START, -first)] + [(START + dt.timedelta(days=d), -a) for d, a in payments]
    paid_in = first + sum(a for _, a in payments)
    flows.append((START + dt.timedelta(days=end), paid_in * growth))

    expected = bisection_xirr(flows)
    found = returns.xirr(flows)

    assert found is not None
    assert math.isclose(float(found), expected, rel_tol=1e-9, abs_tol=1e-8)


def test_flows_of_one_sign_have_no_money_weighted_return():
    assert returns.xirr([(START, D(-10)), (START + dt.timedelta(days=9), D(-5))]) is None
    assert returns.xirr([(START, D(10))]) is None


def points(values, flows=None):
    flows = flows or [0] * len(values)
    return [
        Point(START + dt.timedelta(days=i), D(v), D(0), D(0), D(f))
        for i, (v, f) in enumerate(zip(values, flows, strict=True))
    ]


def test_max_drawdown_and_underwater_with_their_dates():
    series = points([100, 120, 90, 60, 130, 110], flows=[100, 0, 0, 0, 0, 0])
    growth = returns.growths(series)
    levels = risk.index(series, growth, Window(0, 6, None))
    assert [level for _, level in levels] == [
        D(1),
        D("1.2"),
        D("0.9"),
        D("0.6"),
        D("1.3"),
        D("1.1"),
    ]
    drawdown = risk.max_drawdown(levels, START)
    assert drawdown.depth == D("-0.5")  # 1.2 -> 0.6
    assert (drawdown.peak, drawdown.trough, drawdown.recovered) == (
        START + dt.timedelta(days=1),
        START + dt.timedelta(days=3),
        START + dt.timedelta(days=4),
    )
    under = [depth for _, depth in risk.underwater(levels)]
    assert under[:5] == [D(0), D(0), D("-0.25"), D("-0.5"), D(0)]
    assert abs(under[5] - (D("1.1") / D("1.3") - 1)) < D("1e-30")


def test_beta_and_correlation_of_daily_returns():
    days = [START + dt.timedelta(days=i) for i in range(1, 6)]
    bench = dict(zip(days, [0.01, -0.02, 0.03, 0.0, -0.01], strict=True))
    doubled = {d: 2 * r for d, r in bench.items()}
    relation = risk.relation(doubled, bench)
    assert math.isclose(relation.beta, 2.0) and math.isclose(relation.correlation, 1.0)
    opposite = risk.relation({d: -0.5 * r for d, r in bench.items()}, bench)
    assert math.isclose(opposite.beta, -0.5) and math.isclose(opposite.correlation, -1.0)
    assert risk.relation({}, bench).beta is None


def test_annualised_volatility_scales_by_the_days_observed_a_year():
    days = [START + dt.timedelta(days=i) for i in range(1, 5)]
    daily = dict(zip(days, [0.01, -0.01, 0.01, -0.01], strict=True))
    # 4 returns over 4 days (= 365.25 a year): std 0.011547 x sqrt(365.25)
    found = risk.volatility(daily, START, days[-1])
    assert math.isclose(found, 0.011547005383792516 * math.sqrt(365.25), rel_tol=1e-12)
