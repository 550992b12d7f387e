import uuid

from django.db import models
from django.utils import timezone


class DailyStatistics(models.Model):
    """One row per local calendar day; definitions in docs/design.md, Daily statistics."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    date = models.DateField(unique=True)

    total_orders = models.IntegerField(default=0)
    completed_orders = models.IntegerField(default=0)
    cancelled_orders = models.IntegerField(default=0)

    # A day's sums outgrow an order's NUMERIC(12, 2) (10 billion): 33,000 orders of a
    # million dong already make 33 billion. Sixteen digits hold any day to the cent.
    total_revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    total_discount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    total_shipping_fee = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    net_revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    new_users = models.IntegerField(default=0)
    active_users = models.IntegerField(default=0)

    total_books_sold = models.IntegerField(default=0)
    top_selling_book = models.ForeignKey(
        "inventory.Book", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    top_selling_book_count = models.IntegerField(default=0)

    cod_orders = models.IntegerField(default=0)
    vnpay_orders = models.IntegerField(default=0)
    momo_orders = models.IntegerField(default=0)

    # When these figures were last computed: the nightly run recomputes the last
    # STATS_REFRESH_DAYS days, so a row's figures may be newer than its day.
    computed_at = models.DateTimeField(default=timezone.now, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "daily_statistics"
        ordering = ["-date"]
        verbose_name = "daily statistics"
        verbose_name_plural = "daily statistics"

    def __str__(self) -> str:
        return f"Statistics of {self.date.isoformat()}"
