from django.contrib import admin
from django.template.defaultfilters import pluralize

from market import services
from market.models import (
    DailyBar,
    Dividend,
    Instrument,
    Miner,
    PriceSnapshot,
    Quote,
    RefreshRun,
    SplitEvent,
)


class MinerInline(admin.StackedInline):
    model = Miner
    extra = 0


@admin.action(description="Reactivate: refreshes ask the provider for them again")
def reactivate(modeladmin, request, queryset) -> None:
    count = services.reactivate_instruments(
        instrument_ids=list(queryset.values_list("pk", flat=True))
    )
    modeladmin.message_user(request, f"{count} instrument{pluralize(count)} reactivated.")


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "name",
        "kind",
        "exchange",
        "currency",
        "is_benchmark",
        "is_active",
        "failure_count",
        "deactivated_at",
    ]
    list_filter = ["kind", "is_benchmark", "is_active"]
    search_fields = ["symbol", "name"]
    readonly_fields = ["failure_count", "last_failure", "deactivated_at"]
    actions = [reactivate]
    inlines = [MinerInline]


@admin.register(Miner)
class MinerAdmin(admin.ModelAdmin):
    list_display = [
        "instrument",
        "segment",
        "country",
        "hashrate_eh",
        "power_mw",
        "hpc_contracted_mw",
    ]
    list_filter = ["segment", "country"]
    search_fields = ["instrument__symbol", "instrument__name"]
    list_select_related = ["instrument"]


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = [
        "instrument",
        "price",
        "change_percent",
        "market_state",
        "market_cap",
        "market_cap_source",
        "fetched_at",
        "source",
    ]
    list_select_related = ["instrument"]


@admin.register(RefreshRun)
class RefreshRunAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "status",
        "provider",
        "started_at",
        "duration_ms",
        "stored_count",
        "error_count",
    ]
    list_filter = ["kind", "status"]


admin.site.register(PriceSnapshot)
admin.site.register(DailyBar)
admin.site.register(SplitEvent)


@admin.register(Dividend)
class DividendAdmin(admin.ModelAdmin):
    list_display = ["instrument", "ex_date", "amount", "currency"]
    list_select_related = ["instrument"]
    search_fields = ["instrument__symbol"]
