import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    PROCESSING = "processing", "Processing"
    SHIPPING = "shipping", "Shipping"
    DELIVERED = "delivered", "Delivered"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class PaymentMethod(models.TextChoices):
    COD = "cod", "Cash on delivery"
    VNPAY = "vnpay", "VNPay"
    MOMO = "momo", "MoMo"


# The order-status graph (docs/design.md, Order status): every change not listed is refused.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.CONFIRMED, OrderStatus.CANCELLED}),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.PROCESSING, OrderStatus.CANCELLED}),
    OrderStatus.PROCESSING: frozenset({OrderStatus.SHIPPING}),
    OrderStatus.SHIPPING: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.COMPLETED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    discount_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # When order:check_pending first logged this order as stale: the durable "already
    # reported" mark that makes each stale order reported once (orders/services.py).
    stale_reported_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="order_created_at_idx"),
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
            # The pending-order check's claim looks only at pending orders not yet reported
            # stale: without this index it would walk every old pending order every 5 s.
            models.Index(
                fields=["created_at"],
                condition=Q(status=OrderStatus.PENDING, stale_reported_at__isnull=True),
                name="order_pending_unreported_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(subtotal__gte=0), name="order_subtotal_not_negative"),
            models.CheckConstraint(
                condition=Q(discount_amount__gte=0, discount_amount__lte=F("subtotal")),
                name="order_discount_within_subtotal",
            ),
            models.CheckConstraint(condition=Q(shipping_fee__gte=0), name="order_shipping_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") - F("discount_amount") + F("shipping_fee")),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_valid"),
            models.CheckConstraint(
                condition=Q(payment_method__in=PaymentMethod.values), name="order_payment_method_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Order {str(self.id)[:8]}"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    book = models.ForeignKey("inventory.Book", on_delete=models.PROTECT, related_name="order_items")
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_item_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.book}"

    @property
    def line_total(self):
        return self.unit_price * self.quantity


class OrderStatusHistory(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_history")
    old_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    new_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "order status history"
        indexes = [models.Index(fields=["order", "created_at"], name="order_history_order_idx")]

    def __str__(self) -> str:
        return f"{self.old_status or '-'} -> {self.new_status}"
