"""What the CSV import tests share: sending a file through the import view as the signed-in
user, confirming its preview, and reading back what the portfolio holds."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from portfolios.models import Holding, Transaction


def upload(client, portfolio, content: bytes | str, name: str = "file.csv"):
    """The import view's answer (its preview) to `content` sent as a file."""
    if isinstance(content, str):
        content = content.encode()
    return client.post(
        f"/portfolios/{portfolio.pk}/import/",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


def confirm(client, portfolio, response):
    """Confirm the preview `response` showed."""
    return client.post(
        f"/portfolios/{portfolio.pk}/import/confirm/", {"sha256": response.context["sha256"]}
    )


def entries(portfolio):
    """The portfolio's trades and dividends."""
    return list(
        Transaction.objects.filter(portfolio=portfolio, holding__isnull=False)
        .order_by("trade_date", "id")
        .values_list(
            "holding__instrument__symbol", "kind", "trade_date", "quantity", "price", "fee"
        )
    )


def cash_entries(portfolio):
    """The portfolio's deposits, withdrawals, interest and stand-alone fees."""
    return list(
        Transaction.objects.filter(portfolio=portfolio, holding=None)
        .order_by("trade_date", "id")
        .values_list("kind", "trade_date", "amount", "note")
    )


def position(portfolio, symbol):
    holding = Holding.objects.get(portfolio=portfolio, instrument__symbol=symbol)
    return (holding.quantity, holding.average_cost, holding.cost_basis, holding.realized_pnl)


def realized(portfolio, symbol):
    return Holding.objects.get(portfolio=portfolio, instrument__symbol=symbol).realized_pnl


def problems(response):
    """The preview's problems: (line, column, message)."""
    return [(p.line, p.column, p.message) for p in response.context["preview"].problems]
