from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    author = models.CharField(max_length=255, blank=True)
    isbn = models.CharField("ISBN", max_length=13, unique=True, help_text="ISBN-13, digits only.")
    price = models.DecimalField(max_digits=12, decimal_places=2)
    is_active = models.BooleanField(
        default=True, help_text="Inactive books are not sold nor watched for stock."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="book_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title


class Warehouse(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    code = models.CharField(max_length=20, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


# The largest stock the quantity column holds: it is a PostgreSQL ``integer`` (32 bits).
STOCK_QUANTITY_MAX = 2**31 - 1

# The stock level of a low-stock row (docs/design.md, inventory:check_low_stock): some left,
# at most the threshold. An empty shelf is not low stock. Also the partial index's
# condition, so the check's query reads that small index.
LOW_STOCK_LEVEL = Q(quantity__gt=0, quantity__lte=F("alert_threshold"))

# An open alert: not resolved yet. At most one per stock row.
OPEN_ALERT = Q(resolved_at__isnull=True)


class WarehouseInventoryQuerySet(models.QuerySet):
    def low(self) -> WarehouseInventoryQuerySet:
        """Low stock: rows of active books at ``LOW_STOCK_LEVEL`` (inactive books are not
        watched for stock)."""
        return self.filter(LOW_STOCK_LEVEL, book__is_active=True)


class WarehouseInventory(models.Model):
    """The stock of one book in one warehouse."""

    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="stock")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="stock")
    quantity = models.IntegerField(default=0)
    alert_threshold = models.IntegerField(default=10, help_text="Alert when 0 < quantity <= this.")
    last_restocked_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WarehouseInventoryQuerySet.as_manager()

    class Meta:
        db_table = "warehouse_inventory"
        verbose_name = "stock row"
        verbose_name_plural = "stock"
        ordering = ["book__title", "warehouse__code"]
        constraints = [
            models.UniqueConstraint(fields=["book", "warehouse"], name="stock_one_row_per_book_warehouse"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stock_quantity_not_negative"),
            models.CheckConstraint(condition=Q(alert_threshold__gte=0), name="stock_threshold_not_negative"),
        ]
        indexes = [
            # The hourly low-stock check reads only the low rows: a partial index keeps
            # that a small index scan however large the table grows.
            models.Index(fields=["book"], condition=LOW_STOCK_LEVEL, name="stock_low_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.book} @ {self.warehouse.code}: {self.quantity}"


class LowStockAlertQuerySet(models.QuerySet):
    def open(self) -> LowStockAlertQuerySet:
        return self.filter(OPEN_ALERT)

    def resolved(self) -> LowStockAlertQuerySet:
        return self.exclude(OPEN_ALERT)


class LowStockAlert(models.Model):
    stock = models.ForeignKey(WarehouseInventory, on_delete=models.CASCADE, related_name="alerts")
    quantity = models.IntegerField(help_text="Stock when the alert was opened.")
    threshold = models.IntegerField(help_text="Threshold when the alert was opened.")
    opened_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = LowStockAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open alert per stock row: the hourly check can run any number of
            # times, concurrently too, and never opens a second one.
            models.UniqueConstraint(
                fields=["stock"], condition=OPEN_ALERT, name="low_stock_one_open_alert_per_stock"
            ),
        ]

    def __str__(self) -> str:
        return f"Low stock alert #{self.pk}"
