from django.contrib import admin
from django.db.models import F

from inventory.models import Book, LowStockAlert, Warehouse, WarehouseInventory
from inventory.services import alerts_resolve, stock_enqueue_sync


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [
            ("low", "Low (0 < quantity <= threshold, active book)"),
            ("out", "Out of stock"),
            ("ok", "Above threshold"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.low()
        if self.value() == "out":
            return queryset.filter(quantity=0)
        if self.value() == "ok":
            return queryset.filter(quantity__gt=F("alert_threshold"))
        return queryset


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.open()
        if self.value() == "resolved":
            return queryset.resolved()
        return queryset


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "isbn", "price", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["title", "author", "isbn"]


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "created_at"]
    search_fields = ["code", "name"]


@admin.register(WarehouseInventory)
class WarehouseInventoryAdmin(admin.ModelAdmin):
    list_display = ["book", "warehouse", "quantity", "alert_threshold", "last_restocked_at", "last_synced_at"]
    list_filter = [StockLevelFilter, "warehouse"]
    search_fields = ["book__title", "book__isbn", "warehouse__code"]
    list_select_related = ["book", "warehouse"]
    autocomplete_fields = ["book"]
    readonly_fields = ["last_restocked_at", "last_synced_at"]
    actions = ["sync_from_warehouse"]

    @admin.action(description="Sync from warehouse")
    def sync_from_warehouse(self, request, queryset):
        count = stock_enqueue_sync(stock_rows=queryset)
        self.message_user(request, f"Enqueued {count} warehouse sync job(s); the stock updates as they run.")


@admin.register(LowStockAlert)
class LowStockAlertAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "book",
        "warehouse",
        "current_stock",
        "quantity",
        "threshold",
        "opened_at",
        "notified_at",
        "resolved_at",
    ]
    list_filter = [AlertStateFilter, "stock__warehouse"]
    search_fields = ["stock__book__title", "stock__book__isbn", "stock__warehouse__code"]
    list_select_related = ["stock__book", "stock__warehouse"]
    readonly_fields = ["stock", "quantity", "threshold", "opened_at", "notified_at", "resolved_at"]
    date_hierarchy = "opened_at"

    @admin.display(ordering="stock__book__title")
    def book(self, obj):
        return obj.stock.book

    @admin.display(ordering="stock__warehouse__code")
    def warehouse(self, obj):
        return obj.stock.warehouse.code

    @admin.display(description="stock now", ordering="stock__quantity")
    def current_stock(self, obj):
        return obj.stock.quantity

    actions = ["resolve"]

    def has_add_permission(self, request):
        # Alerts are opened by the hourly check, never by hand.
        return False

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        count = alerts_resolve(alerts=queryset)
        self.message_user(request, f"Resolved {count} alert(s).")
