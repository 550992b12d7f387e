from django.contrib import admin

from carts.models import Cart, CartItem


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Expired"), ("no", "Active")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.expired()
        if self.value() == "no":
            return queryset.active()
        return queryset


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    autocomplete_fields = ["book"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "expires_at", "is_expired", "created_at"]
    list_filter = [ExpiredFilter]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    inlines = [CartItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).with_is_expired()

    @admin.display(boolean=True, description="expired", ordering="is_expired")
    def is_expired(self, obj):
        return obj.is_expired
