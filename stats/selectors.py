"""The daily figures, computed in a handful of SQL aggregates (docs/design.md, Daily statistics)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from orders.models import Order, OrderItem, OrderStatus, PaymentMethod

ZERO = Decimal("0.00")


def stats_day_for_run(*, at: dt.datetime | None = None) -> dt.date:
    """The day a statistics run at ``at`` (default: now) covers: the day before, in
    TIME_ZONE. The 01:00 run on 24 November is for 23 November, whenever it runs."""
    return timezone.localdate(at) - dt.timedelta(days=1)


def local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight to local midnight in TIME_ZONE, as aware datetimes."""
    tz = timezone.get_default_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def daily_figures(day: dt.date) -> dict:
    """Every field of DailyStatistics for ``day``. Each order counts once however many
    items it has; cancelled orders are out of the money and the books sold."""
    start, end = local_day_bounds(day)
    not_cancelled = ~Q(status=OrderStatus.CANCELLED)
    orders = Order.objects.filter(created_at__gte=start, created_at__lt=end)
    figures = orders.aggregate(
        total_orders=Count("id"),
        completed_orders=Count("id", filter=Q(status=OrderStatus.COMPLETED)),
        cancelled_orders=Count("id", filter=Q(status=OrderStatus.CANCELLED)),
        total_revenue=Sum("total", filter=not_cancelled, default=ZERO),
        total_discount=Sum("discount_amount", filter=not_cancelled, default=ZERO),
        total_shipping_fee=Sum("shipping_fee", filter=not_cancelled, default=ZERO),
        net_revenue=Sum(F("subtotal") - F("discount_amount"), filter=not_cancelled, default=ZERO),
        active_users=Count("user", distinct=True),
        cod_orders=Count("id", filter=Q(payment_method=PaymentMethod.COD)),
        vnpay_orders=Count("id", filter=Q(payment_method=PaymentMethod.VNPAY)),
        momo_orders=Count("id", filter=Q(payment_method=PaymentMethod.MOMO)),
    )
    sold = OrderItem.objects.filter(order__created_at__gte=start, order__created_at__lt=end).exclude(
        order__status=OrderStatus.CANCELLED
    )
    figures["total_books_sold"] = sold.aggregate(n=Sum("quantity", default=0))["n"]
    top = (
        sold.values("book_id", "book__title")
        .annotate(count=Sum("quantity"))
        .order_by("-count", "book__title", "book_id")
        .first()
    )
    figures["top_selling_book_id"] = top["book_id"] if top else None
    figures["top_selling_book_count"] = top["count"] if top else 0
    figures["new_users"] = (
        get_user_model().objects.filter(date_joined__gte=start, date_joined__lt=end).count()
    )
    return figures


def statistics_window(days: int) -> list:
    """The daily rows of the last ``days`` days (yesterday and the days before), oldest first."""
    from stats.models import DailyStatistics

    since = timezone.localdate() - dt.timedelta(days=days)
    return list(DailyStatistics.objects.filter(date__gte=since).order_by("date"))


def top_books(days: int, limit: int = 5) -> list[dict]:
    """Best sellers of the last ``days`` days (books sold in orders not cancelled)."""
    start, _ = local_day_bounds(timezone.localdate() - dt.timedelta(days=days - 1))
    return list(
        OrderItem.objects.filter(order__created_at__gte=start)
        .exclude(order__status=OrderStatus.CANCELLED)
        .values("book__title")
        .annotate(sold=Sum("quantity"))
        .order_by("-sold", "book__title")[:limit]
    )
