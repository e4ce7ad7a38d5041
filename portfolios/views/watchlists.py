"""Watchlist pages: several named, ordered lists of instruments with live quotes and a note each."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.conditional import conditional_page
from market.models import Instrument
from market.providers import ProviderError, get_provider
from portfolios import selectors, services
from portfolios.forms import WatchlistForm, WatchlistItemAddForm, WatchlistItemNoteForm
from portfolios.models import Watchlist, WatchlistItem
from portfolios.services.limits import spend_lookup
from portfolios.views.common import HtmxHttpRequest, apply_errors, done, form_invalid

INDEX = "portfolios/watchlists.html"
DETAIL = "portfolios/watchlist_detail.html"
SEARCH_MAX = 8


def _own_watchlist(request: HtmxHttpRequest, pk: int) -> Watchlist:
    return get_object_or_404(Watchlist, pk=pk, owner=request.user)


def _own_item(request: HtmxHttpRequest, pk: int, item_pk: int) -> WatchlistItem:
    return get_object_or_404(
        WatchlistItem.objects.select_related("watchlist", "instrument"),
        pk=item_pk,
        watchlist_id=pk,
        watchlist__owner=request.user,
    )


def _index_context(request: HtmxHttpRequest, form: WatchlistForm | None = None) -> dict:
    return {
        "watchlists": list(selectors.user_watchlists(request.user)),
        "form": form or WatchlistForm(),
    }


def _detail_context(request: HtmxHttpRequest, watchlist: Watchlist, **extra) -> dict:
    return {
        "watchlist": watchlist,
        "watchlists": list(request.user.watchlists.all()),
        "items": list(selectors.watchlist_items(watchlist)),
        "add_form": extra.pop("add_form", None) or WatchlistItemAddForm(),
        "rename_form": extra.pop("rename_form", None)
        or WatchlistForm(instance=watchlist, prefix="rename"),
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
    form = WatchlistForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            watchlist = services.create_watchlist(
                owner=request.user, name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Created the watchlist “{watchlist.name}”.")
            return done(
                request,
                reverse("portfolios:watchlist", args=[watchlist.pk]),
                template=INDEX,
                context=_index_context(request) | {"created": watchlist},
            )
    if request.method == "POST":
        return form_invalid(
            request,
            INDEX,
            _index_context(request, form),
            partial="create_form",
            target="#watchlist-create",
        )
    return render(request, INDEX, _index_context(request, form))


@conditional_page
@login_required
@require_GET
def detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    watchlist = _own_watchlist(request, pk)
    query = request.GET.get("q", "").strip()
    extra = {"query": query, "hits": _search(query, watchlist) if query else None}
    return render(request, DETAIL, _detail_context(request, watchlist, **extra))


@conditional_page
@login_required
@require_GET
def rows(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The table rows alone: what the page polls every 30 seconds for fresh quotes."""
    watchlist = _own_watchlist(request, pk)
    context = {"watchlist": watchlist, "items": list(selectors.watchlist_items(watchlist))}
    return render(request, f"{DETAIL}#rows", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    watchlist = _own_watchlist(request, pk)
    form = WatchlistForm(request.POST or None, instance=watchlist, prefix="rename")
    if request.method == "POST" and form.is_valid():
        try:
            services.rename_watchlist(watchlist=watchlist, name=form.cleaned_data["name"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return done(
                request,
                reverse("portfolios:watchlist", args=[pk]),
                template=DETAIL,
                context=_detail_context(request, watchlist),
            )
    watchlist.refresh_from_db(fields=["name"])
    context = _detail_context(request, watchlist, rename_form=form, rename_open=True)
    if request.method == "POST":
        return form_invalid(
            request, DETAIL, context, partial="rename_form", target="#watchlist-rename"
        )
    return render(request, DETAIL, context)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    watchlist = _own_watchlist(request, pk)
    if request.method == "POST":
        name = watchlist.name
        services.delete_watchlist(watchlist=watchlist)
        messages.success(request, f"Deleted the watchlist “{name}”.")
        return done(
            request,
            reverse("portfolios:watchlists"),
            template=INDEX,
            context=_index_context(request),
        )
    return render(request, "portfolios/watchlist_delete.html", {"watchlist": watchlist})


@login_required
@require_POST
def move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    watchlist = _own_watchlist(request, pk)
    direction = request.POST.get("direction")
    if direction in (services.UP, services.DOWN):
        services.move_watchlist(watchlist=watchlist, direction=direction)
    return done(
        request, reverse("portfolios:watchlists"), template=INDEX, context=_index_context(request)
    )


@login_required
@require_POST
def add_item(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    watchlist = _own_watchlist(request, pk)
    form = WatchlistItemAddForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            item = services.add_watchlist_item(
                watchlist=watchlist,
                instrument=form.cleaned_data["instrument"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Added {item.instrument.symbol} to {watchlist.name}.")
            return done(
                request,
                reverse("portfolios:watchlist", args=[pk]),
                template=DETAIL,
                context=_detail_context(request, watchlist),
            )
    return form_invalid(
        request,
        DETAIL,
        _detail_context(request, watchlist, add_form=form),
        partial="add_form",
        target="#watchlist-add",
    )


@login_required
@require_GET
def search(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Instruments matching a symbol or a name: ours first, then the provider's."""
    watchlist = _own_watchlist(request, pk)
    query = request.GET.get("q", "").strip()
    context = {"query": query, "hits": _search(query, watchlist)}
    if request.htmx:
        return render(request, f"{DETAIL}#search_results", {"watchlist": watchlist, **context})
    return render(request, DETAIL, _detail_context(request, watchlist, **context))


def _search(query: str, watchlist: Watchlist) -> dict:
    """{"local": instruments we have, "remote": provider hits we do not have, "error": text}."""
    query = query[:60]
    if not query:
        return {"local": [], "remote": [], "error": ""}
    local = list(
        Instrument.objects.exclude(kind=Instrument.Kind.FX)
        .filter(Q(symbol__istartswith=query) | Q(name__icontains=query))
        .order_by("symbol")[:SEARCH_MAX]
    )
    on_list = set(watchlist.items.values_list("instrument_id", flat=True))
    for instrument in local:
        instrument.on_list = instrument.pk in on_list
    known = {i.symbol for i in local}
    key = f"portfolios:search:{query.casefold()}"
    remote, error = cache.get(key), ""
    if remote is None and not (spent := spend_lookup(watchlist.owner_id)):
        remote = []
        error = (
            f"You have made {spent.limit} searches of the market-data provider this minute, "
            "the most one account may: only the instruments we follow are listed. Try again "
            f"{spent.wait_text()}."
        )
    elif remote is None:
        try:
            remote = [
                {"symbol": hit.symbol, "name": hit.name, "exchange": hit.exchange or ""}
                for hit in get_provider().search(query)[:SEARCH_MAX]
            ]
            cache.set(key, remote, settings.PROVIDER_ANSWER_CACHE_SECONDS)
        except (ProviderError, AttributeError, NotImplementedError):
            remote, error = [], "The search of the market-data provider is not answering."
    if remote:
        have = set(
            Instrument.objects.filter(symbol__in=[h["symbol"] for h in remote]).values_list(
                "symbol", flat=True
            )
        )
        remote = [h for h in remote if h["symbol"] not in known and h["symbol"] not in have]
    return {"local": local, "remote": remote, "error": error}


@login_required
@require_http_methods(["GET", "POST"])
def item_note(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = _own_item(request, pk, item_pk)
    watchlist = item.watchlist
    form = WatchlistItemNoteForm(request.POST or None, instance=item, prefix=f"note-{item.pk}")
    if request.method == "POST" and form.is_valid():
        services.set_watchlist_item_note(item=item, note=form.cleaned_data["note"])
        return done(
            request,
            reverse("portfolios:watchlist", args=[pk]),
            template=DETAIL,
            context=_detail_context(request, watchlist),
        )
    context = {"watchlist": watchlist, "item": item, "note_form": form}
    if request.method == "POST":
        return form_invalid(
            request,
            "portfolios/watchlist_item_note.html",
            context,
            partial="note_form",
            target="#note-editor",
        )
    if request.htmx:
        return render(request, "portfolios/watchlist_item_note.html#note_form", context)
    return render(request, "portfolios/watchlist_item_note.html", context)


@login_required
@require_POST
def item_move(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = _own_item(request, pk, item_pk)
    direction = request.POST.get("direction")
    if direction in (services.UP, services.DOWN):
        services.move_watchlist_item(item=item, direction=direction)
    return done(
        request,
        reverse("portfolios:watchlist", args=[pk]),
        template=DETAIL,
        context=_detail_context(request, item.watchlist),
    )


@login_required
@require_POST
def item_remove(request: HtmxHttpRequest, pk: int, item_pk: int) -> HttpResponse:
    item = _own_item(request, pk, item_pk)
    symbol = item.instrument.symbol
    services.remove_watchlist_item(item=item)
    messages.success(request, f"Removed {symbol} from {item.watchlist.name}.")
    return done(
        request,
        reverse("portfolios:watchlist", args=[pk]),
        template=DETAIL,
        context=_detail_context(request, item.watchlist),
    )


@login_required
@require_POST
def add_symbol(request: HtmxHttpRequest) -> HttpResponse:
    """From a miner's page: add its symbol to one of the user's watchlists, or to a new one."""
    instrument = get_object_or_404(Instrument, symbol=request.POST.get("symbol", "").upper())
    back = reverse("market:miner", args=[instrument.symbol])
    choice = request.POST.get("watchlist", "")
    new_name = request.POST.get("new_name", "").strip()
    try:
        with transaction.atomic():
            if choice == "new" or not choice:
                if not new_name:
                    raise ValidationError("Name the new watchlist.")
                watchlist = services.create_watchlist(owner=request.user, name=new_name)
            else:
                watchlist = get_object_or_404(
                    Watchlist, pk=choice if choice.isdigit() else 0, owner=request.user
                )
            services.add_watchlist_item(watchlist=watchlist, instrument=instrument)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(request, f"Added {instrument.symbol} to {watchlist.name}.")
    return redirect("portfolios:watchlist", pk=watchlist.pk)
