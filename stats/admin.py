from django.contrib import admin

from stats.models import DailyStatistics


@admin.register(DailyStatistics)
class DailyStatisticsAdmin(admin.ModelAdmin):
    """Read-only: the figures are computed by the stats:daily job, never typed in."""

    list_display = [
        "date",
        "total_orders",
        "completed_orders",
        "cancelled_orders",
        "total_revenue",
        "net_revenue",
        "total_books_sold",
        "top_selling_book",
        "active_users",
        "new_users",
    ]
    list_select_related = ["top_selling_book"]
    date_hierarchy = "date"
    list_filter = ["date"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
