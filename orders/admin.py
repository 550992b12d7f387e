from django.contrib import admin

from orders.models import Order, OrderItem, OrderStatusHistory


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    autocomplete_fields = ["book"]

    def has_change_permission(self, request, obj=None):
        return False


class OrderStatusHistoryInline(admin.TabularInline):
    model = OrderStatusHistory
    extra = 0
    fields = ["created_at", "old_status", "new_status", "note"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # History is written by the status-change service, together with the change.
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["short_id", "user", "status", "payment_method", "total", "created_at"]
    list_filter = ["status", "payment_method", "created_at"]
    search_fields = ["id", "user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "status",
        "subtotal",
        "discount_amount",
        "shipping_fee",
        "total",
        "created_at",
        "updated_at",
    ]
    inlines = [OrderItemInline, OrderStatusHistoryInline]

    @admin.display(description="order", ordering="id")
    def short_id(self, obj):
        return str(obj.id)[:8]


@admin.register(OrderStatusHistory)
class OrderStatusHistoryAdmin(admin.ModelAdmin):
    list_display = ["order", "old_status", "new_status", "note", "created_at"]
    list_filter = ["new_status", "created_at"]
    search_fields = ["order__id", "note"]
    list_select_related = ["order"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
