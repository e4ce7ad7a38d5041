from django.contrib import admin

from market.models import DailyBar, Instrument, Miner, PriceSnapshot, Quote, RefreshRun, SplitEvent


class MinerInline(admin.StackedInline):
    model = Miner
    extra = 0


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "kind", "exchange", "currency", "is_benchmark", "is_active"]
    list_filter = ["kind", "is_benchmark", "is_active"]
    search_fields = ["symbol", "name"]
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
    list_display = ["instrument", "price", "change_percent", "market_state", "fetched_at", "source"]
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
