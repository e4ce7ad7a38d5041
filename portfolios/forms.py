"""Forms for watchlists, portfolios, transactions and alerts: they parse input; the rules that
need the database (a sell of more than was held, a duplicate name) live in the services."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from market.models import Instrument
from market.rules import NOTE_MAX_LENGTH
from portfolios.models import Portfolio, PriceAlert, Transaction, Watchlist, WatchlistItem
from portfolios.services import (
    CURRENCIES,
    clean_cash_values,
    clean_trade_values,
    find_or_add_instrument,
)

DECIMAL = {"max_digits": 20, "decimal_places": 8}


class SymbolInput(forms.TextInput):
    """A ticker field: upper-cased as typed, suggestions from the universe (a <datalist>)."""

    def __init__(self, attrs=None):
        defaults = {
            "list": "symbol-choices",
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "placeholder": "IREN",
            "class": "symbol-input",
        }
        super().__init__({**defaults, **(attrs or {})})


class SymbolField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", SymbolInput())
        kwargs.setdefault("label", "Symbol")
        super().__init__(**kwargs)

    def to_python(self, value):
        return (super().to_python(value) or "").strip().upper()


class ResolvesSymbol:
    """Resolve the symbol to an instrument last, once every other field is valid, so a symbol
    the provider knows is only added for an input that will be written, on behalf of `user`
    (who may add a limited number)."""

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def resolve_symbol(
        self, cleaned: dict, *, missing_error: tuple[str, str] | None = None
    ) -> None:
        """`missing_error` (field, message): refuse a symbol we do not have yet with this error
        instead of adding it."""
        if self.errors or not cleaned.get("symbol"):
            return
        if missing_error and not Instrument.objects.filter(symbol=cleaned["symbol"]).exists():
            self.add_error(*missing_error)
            return
        try:
            cleaned["instrument"] = find_or_add_instrument(cleaned["symbol"], user=self.user)
        except ValidationError as exc:
            self.add_error("symbol", exc)


class WatchlistForm(forms.ModelForm):
    class Meta:
        model = Watchlist
        fields = ["name"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "AI/HPC pivoters"})}


class WatchlistItemAddForm(ResolvesSymbol, forms.Form):
    symbol = SymbolField(help_text="A symbol from the list, or any symbol Yahoo Finance knows.")
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Why you watch it (optional)"}),
    )

    def clean(self):
        cleaned = super().clean()
        self.resolve_symbol(cleaned)
        return cleaned


class WatchlistItemNoteForm(forms.ModelForm):
    class Meta:
        model = WatchlistItem
        fields = ["note"]
        widgets = {"note": forms.TextInput(attrs={"placeholder": "Add a note"})}


class PortfolioForm(forms.ModelForm):
    base_currency = forms.ChoiceField(
        choices=[(code, f"{code} · {name}") for code, name in CURRENCIES],
        initial="USD",
        label="Base currency",
        help_text="Values and P&L are shown in this currency; other currencies are converted at "
        "the latest FX rate.",
    )

    class Meta:
        model = Portfolio
        fields = ["name", "base_currency"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "Long-term"})}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].setdefault("max", timezone.localdate().isoformat())
        return context


KIND_CHOICES = [
    (Transaction.Kind.BUY, "Buy"),
    (Transaction.Kind.SELL, "Sell"),
    (Transaction.Kind.DIVIDEND, "Dividend"),
    (Transaction.Kind.DEPOSIT, "Deposit (cash in)"),
    (Transaction.Kind.WITHDRAWAL, "Withdrawal (cash out)"),
    (Transaction.Kind.INTEREST, "Interest"),
    (Transaction.Kind.FEE, "Fee (stand-alone)"),
]


def _number(**attrs) -> forms.NumberInput:
    return forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal", **attrs})


class TransactionForm(ResolvesSymbol, forms.Form):
    """A ledger entry: a buy, sell or dividend of a symbol (quantity, price, fee), or a cash
    entry of the portfolio (amount). `kinds` limits the types offered (an edit keeps a dividend
    a dividend, a cash entry a cash entry)."""

    symbol = SymbolField(required=False, help_text="For a buy, sell or dividend.")
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial=Transaction.Kind.BUY, label="Type")
    trade_date = forms.DateField(label="Trade date", widget=DateInput())
    quantity = forms.DecimalField(
        **DECIMAL, required=False, widget=_number(), help_text="Shares (held, for a dividend)."
    )
    price = forms.DecimalField(
        **DECIMAL,
        required=False,
        label="Price per share",
        widget=_number(),
        help_text="The dividend per share, for a dividend.",
    )
    fee = forms.DecimalField(
        **DECIMAL,
        required=False,
        initial=0,
        label="Fee",
        widget=_number(),
        help_text="Tax withheld, for a dividend.",
    )
    amount = forms.DecimalField(
        **DECIMAL,
        required=False,
        widget=_number(),
        help_text="For a deposit, withdrawal, interest or fee, in the portfolio's currency.",
    )
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Optional"}),
    )

    def __init__(self, *args, with_symbol: bool = True, kinds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_symbol:
            del self.fields["symbol"]
        if kinds is not None:
            self.fields["kind"].choices = [c for c in KIND_CHOICES if c[0] in kinds]
        self.fields["trade_date"].initial = timezone.localdate

    @property
    def is_cash(self) -> bool:
        return self.cleaned_data.get("kind") in Transaction.CASH_KINDS

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if self.is_cash:
            _, problems = clean_cash_values(**self.cash_values())
            for field, message in problems:
                self.add_error(field, message)
            return cleaned
        # The ledger's own checks of each value, so that they come before the symbol lookup.
        _, problems = clean_trade_values(**self.trade_values())
        for field, message in problems:
            self.add_error(field, message)
        if "symbol" in self.fields and not self.errors:
            if not cleaned.get("symbol"):
                self.add_error("symbol", "Enter the symbol.")
                return cleaned
            nothing_held = None
            if cleaned.get("kind") in (Transaction.Kind.SELL, Transaction.Kind.DIVIDEND):
                nothing_held = (
                    "quantity",
                    f"You held no {cleaned['symbol']} on {cleaned['trade_date']}, so there is "
                    f"nothing to {'sell' if cleaned['kind'] == 'sell' else 'pay a dividend on'}.",
                )
            self.resolve_symbol(cleaned, missing_error=nothing_held)
        return cleaned

    def trade_values(self) -> dict:
        values = {
            name: self.cleaned_data[name]
            for name in ("kind", "trade_date", "quantity", "price", "fee", "note")
        }
        if values["fee"] is None:
            values["fee"] = Decimal(0)
        return values

    def cash_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("kind", "trade_date", "amount", "note")}


class AlertForm(ResolvesSymbol, forms.Form):
    symbol = SymbolField()
    condition = forms.ChoiceField(choices=PriceAlert.Condition.choices, label="When")
    threshold = forms.DecimalField(
        **DECIMAL,
        label="Threshold",
        help_text="A price for “above” and “below”; a percentage for moves (5 means 5%).",
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )
    active = forms.BooleanField(required=False, initial=True, label="Active")

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        if threshold is not None and threshold <= 0:
            raise ValidationError("The threshold must be more than zero.")
        return threshold

    def clean(self):
        cleaned = super().clean()
        condition, threshold = cleaned.get("condition"), cleaned.get("threshold")
        is_move = condition in (PriceAlert.Condition.DAY_MOVE, PriceAlert.Condition.PRE_MARKET_MOVE)
        if is_move and threshold is not None and threshold > 1000:
            self.add_error("threshold", "A move is a percentage: enter at most 1000.")
        self.resolve_symbol(cleaned)
        return cleaned
