"""Reads on orders."""

import datetime as dt

from django.db.models import Count, Min, Q, QuerySet

from orders.models import Order, OrderStatus


def pending_orders() -> QuerySet[Order]:
    return Order.objects.filter(status=OrderStatus.PENDING).select_related("user").order_by("created_at")


def pending_orders_summary(*, stale_before: dt.datetime) -> dict:
    """How many orders are pending, the oldest one's placement time (None when none is),
    and how many were placed before ``stale_before``: one aggregate over the
    (status, created_at) index."""
    return Order.objects.filter(status=OrderStatus.PENDING).aggregate(
        pending=Count("id"),
        oldest=Min("created_at"),
        stale=Count("id", filter=Q(created_at__lt=stale_before)),
    )
