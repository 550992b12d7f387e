from django.contrib import admin

from stats.charts import revenue_chart
from stats.formatting import format_money
from stats.models import DailyStatistics
from stats.selectors import statistics_window, top_books


@admin.register(DailyStatistics)
class DailyStatisticsAdmin(admin.ModelAdmin):
    """Read-only: the figures are computed by the stats:daily job, never typed in."""

    list_display = [
        "date",
        "total_orders",
        "completed_orders",
        "cancelled_orders",
        "revenue",
        "net",
        "total_books_sold",
        "top_selling_book",
        "active_users",
        "new_users",
        "computed_at",
    ]
    list_select_related = ["top_selling_book"]
    date_hierarchy = "date"
    list_filter = ["date"]

    chart_choices = (30, 90, 365)

    # Money reads as in the chart above the table: 416,062,150.00 ₫ (stats.formatting).
    @admin.display(description="total revenue", ordering="total_revenue")
    def revenue(self, row: DailyStatistics) -> str:
        return format_money(row.total_revenue)

    @admin.display(description="net revenue", ordering="net_revenue")
    def net(self, row: DailyStatistics) -> str:
        return format_money(row.net_revenue)

    def changelist_view(self, request, extra_context=None):
        try:
            days = int(request.GET.get("days", 30))
        except ValueError:
            days = 30
        days = days if days in self.chart_choices else 30
        # "days" drives the chart only; the changelist must not read it as a filter.
        if "days" in request.GET:
            request.GET = request.GET.copy()
            del request.GET["days"]
        context = {
            "chart_days": days,
            "chart_choices": self.chart_choices,
            "chart": revenue_chart(statistics_window(days)),
            "top_books": top_books(days),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
