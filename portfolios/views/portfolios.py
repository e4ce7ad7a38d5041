"""Portfolio pages: positions with P&L, the ledger of transactions, exposure."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from config.conditional import conditional_page
from portfolios import selectors, services
from portfolios.forms import PortfolioForm, TransactionForm
from portfolios.models import Portfolio, Transaction
from portfolios.views.common import HtmxHttpRequest, apply_errors, done, form_invalid

INDEX = "portfolios/portfolios.html"
DETAIL = "portfolios/portfolio_detail.html"
TRANSACTIONS = "portfolios/transactions.html"
RECENT_TRANSACTIONS = 8
TRANSACTIONS_PER_PAGE = 50


def _plain(value):
    """12.5 rather than 12.50000000 in an edit form."""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else value


def _own_portfolio(request: HtmxHttpRequest, pk: int) -> Portfolio:
    return get_object_or_404(Portfolio, pk=pk, owner=request.user)


def _own_transaction(request: HtmxHttpRequest, pk: int, tx_pk: int) -> Transaction:
    return get_object_or_404(
        Transaction.objects.select_related("holding__instrument", "portfolio"),
        pk=tx_pk,
        portfolio_id=pk,
        portfolio__owner=request.user,
    )


def _kinds_of(entry: Transaction) -> tuple[str, ...]:
    """The types an entry may be changed to: a cash entry stays a cash entry, a dividend a
    dividend, a trade a trade."""
    if entry.is_cash:
        return Transaction.CASH_KINDS
    if entry.is_dividend:
        return (Transaction.Kind.DIVIDEND,)
    return (Transaction.Kind.BUY, Transaction.Kind.SELL)


def _entry_label(entry: Transaction) -> str:
    if entry.is_cash:
        return entry.get_kind_display().lower()
    return f"{entry.holding.instrument.symbol} {entry.get_kind_display().lower()}"


def _index_context(request: HtmxHttpRequest, form: PortfolioForm | None = None) -> dict:
    return {
        "summaries": selectors.portfolio_summaries(request.user),
        "form": form or PortfolioForm(),
    }


def _detail_context(request: HtmxHttpRequest, portfolio: Portfolio, **extra) -> dict:
    positions = selectors.portfolio_positions(portfolio)
    recent = list(selectors.portfolio_transactions(portfolio)[: RECENT_TRANSACTIONS + 1])
    return {
        "portfolio": portfolio,
        "positions": positions,
        "exposure": selectors.exposure_from_positions(positions),
        "recent": recent[:RECENT_TRANSACTIONS],
        "more_transactions": len(recent) > RECENT_TRANSACTIONS,
        "form": extra.pop("form", None) or TransactionForm(),
        "symbol_choices": services.symbol_choices(),
        **extra,
    }


@conditional_page
@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, INDEX, _index_context(request))


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HtmxHttpRequest) -> HttpResponse:
    form = PortfolioForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            portfolio = services.create_portfolio(
                owner=request.user,
                name=form.cleaned_data["name"],
                base_currency=form.cleaned_data["base_currency"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Created the portfolio “{portfolio.name}”.")
            if request.POST.get("then") == "import":  # the first-run guide's "Import a file"
                return redirect("portfolios_csv:import", pk=portfolio.pk)
            return done(
                request,
                reverse("portfolios:portfolio", args=[portfolio.pk]),
                template=INDEX,
                context=_index_context(request),
            )
    if request.method == "POST":
        return form_invalid(
            request,
            INDEX,
            _index_context(request, form),
            partial="create_form",
            target="#portfolio-create",
        )
    return render(request, INDEX, _index_context(request, form))


@conditional_page
@login_required
@require_GET
def detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    portfolio = _own_portfolio(request, pk)
    return render(request, DETAIL, _detail_context(request, portfolio))


@conditional_page
@login_required
@require_GET
def positions(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The summary and the positions table alone: what the page polls for fresh prices."""
    portfolio = _own_portfolio(request, pk)
    context = {"portfolio": portfolio, "positions": selectors.portfolio_positions(portfolio)}
    return render(request, f"{DETAIL}#live", context)


@conditional_page
@login_required
@require_GET
def exposure_one(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    portfolio = _own_portfolio(request, pk)
    context = {
        "portfolio": portfolio,
        "exposure": selectors.exposure(request.user, portfolio),
        "scope": portfolio.name,
    }
    return render(request, "portfolios/exposure.html", context)


@conditional_page
@login_required
@require_GET
def exposure_all(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "portfolio": None,
        "exposure": selectors.exposure(request.user),
        "scope": "All portfolios",
        "portfolio_count": request.user.portfolios.count(),
    }
    return render(request, "portfolios/exposure.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    portfolio = _own_portfolio(request, pk)
    form = PortfolioForm(request.POST or None, instance=portfolio)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_portfolio(
                portfolio=portfolio,
                name=form.cleaned_data["name"],
                base_currency=form.cleaned_data["base_currency"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Saved the portfolio.")
            return done(request, reverse("portfolios:portfolio", args=[pk]))
    portfolio.refresh_from_db()
    context = {"portfolio": portfolio, "form": form}
    if request.method == "POST":
        return form_invalid(
            request,
            "portfolios/portfolio_edit.html",
            context,
            partial="form",
            target="#portfolio-edit",
        )
    return render(request, "portfolios/portfolio_edit.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    portfolio = _own_portfolio(request, pk)
    if request.method == "POST":
        name = portfolio.name
        services.delete_portfolio(portfolio=portfolio)
        messages.success(request, f"Deleted the portfolio “{name}” and its transactions.")
        return done(request, reverse("portfolios:portfolios"))
    count = Transaction.objects.filter(holding__portfolio=portfolio).exclude(kind="split").count()
    return render(
        request, "portfolios/portfolio_delete.html", {"portfolio": portfolio, "count": count}
    )


@login_required
@require_GET
def transactions(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    portfolio = _own_portfolio(request, pk)
    ledger = selectors.portfolio_transactions(portfolio)
    symbol = request.GET.get("symbol", "").strip().upper()
    if symbol:
        ledger = ledger.filter(holding__instrument__symbol=symbol)
    page = Paginator(ledger, TRANSACTIONS_PER_PAGE).get_page(request.GET.get("page"))
    symbols = list(
        portfolio.holdings.order_by("instrument__symbol").values_list(
            "instrument__symbol", flat=True
        )
    )
    context = {"portfolio": portfolio, "page": page, "symbol": symbol, "symbols": symbols}
    return render(request, TRANSACTIONS, context)


@login_required
@require_http_methods(["GET", "POST"])
def transaction_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    portfolio = _own_portfolio(request, pk)
    initial = {"symbol": request.GET.get("symbol", "").upper()} if request.method == "GET" else None
    form = TransactionForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            if form.is_cash:
                entry = services.record_cash_entry(portfolio=portfolio, **form.cash_values())
                what = f"{form.data.get('amount')} {portfolio.base_currency}"
            else:
                entry = services.record_transaction(
                    portfolio=portfolio,
                    instrument=form.cleaned_data["instrument"],
                    **form.trade_values(),
                )
                what = f"{form.data.get('quantity')} {entry.holding.instrument.symbol}"
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                f"Recorded: {entry.get_kind_display().lower()} {what} on {entry.trade_date}.",
            )
            return done(
                request,
                reverse("portfolios:portfolio", args=[pk]),
                template=DETAIL,
                context=_detail_context(request, portfolio),
            )
    if request.method == "POST":
        return form_invalid(
            request,
            DETAIL,
            _detail_context(request, portfolio, form=form),
            partial="transaction_form",
            target="#transaction-form",
        )
    return render(
        request,
        "portfolios/transaction_new.html",
        {"portfolio": portfolio, "form": form, "symbol_choices": services.symbol_choices()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def transaction_edit(request: HtmxHttpRequest, pk: int, tx_pk: int) -> HttpResponse:
    entry = _own_transaction(request, pk, tx_pk)
    portfolio = entry.portfolio
    if entry.is_split:
        messages.info(
            request, "Split entries follow the market's split history; they are not edited."
        )
        return done(request, reverse("portfolios:transactions", args=[pk]))
    form = TransactionForm(
        request.POST or None,
        with_symbol=False,
        kinds=_kinds_of(entry),
        initial={
            name: _plain(getattr(entry, name))
            for name in (*services.transactions.EDITABLE_FIELDS, "amount")
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            if entry.is_cash:
                services.update_cash_entry(transaction=entry, **form.cash_values())
            else:
                services.update_transaction(transaction=entry, **form.trade_values())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Saved the {_entry_label(entry)}.")
            return done(request, reverse("portfolios:transactions", args=[pk]))
    context = {"portfolio": portfolio, "entry": entry, "form": form}
    if request.method == "POST":
        return form_invalid(
            request,
            "portfolios/transaction_edit.html",
            context,
            partial="form",
            target="#transaction-edit",
        )
    return render(request, "portfolios/transaction_edit.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def transaction_delete(request: HtmxHttpRequest, pk: int, tx_pk: int) -> HttpResponse:
    entry = _own_transaction(request, pk, tx_pk)
    portfolio = entry.portfolio
    error = ""
    if request.method == "POST":
        try:
            if entry.is_cash:
                services.delete_cash_entry(transaction=entry)
            else:
                services.delete_transaction(transaction=entry)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, f"Deleted the {_entry_label(entry)}.")
            return done(request, reverse("portfolios:transactions", args=[pk]))
    context = {"portfolio": portfolio, "entry": entry, "error": error}
    status = 422 if error else 200
    if request.htmx and error:
        return form_invalid(
            request,
            "portfolios/transaction_delete.html",
            context,
            partial="form",
            target="#transaction-delete",
        )
    return render(request, "portfolios/transaction_delete.html", context, status=status)
