"""The ledger listings: a portfolio's transactions, or all of a user's, newest first."""

from __future__ import annotations

from django.db.models import QuerySet

from portfolios.models import Portfolio, Transaction


def portfolio_transactions(portfolio: Portfolio) -> QuerySet[Transaction]:
    """The portfolio's ledger, newest first, split entries included."""
    return (
        Transaction.objects.filter(portfolio=portfolio)
        .select_related("holding__instrument")
        .order_by("-trade_date", "-id")
    )


def user_transactions(user) -> QuerySet[Transaction]:
    """Every transaction of every portfolio of the user, newest first."""
    return (
        Transaction.objects.filter(portfolio__owner=user)
        .select_related("holding__instrument", "portfolio")
        .order_by("-trade_date", "-id")
    )
