"""Reads on orders."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from orders.models import Order, OrderItem, OrderStatus

logger = logging.getLogger("orders.pending")

CHUNK = 2000


def pending_orders() -> QuerySet[Order]:
    return Order.objects.filter(status=OrderStatus.PENDING).select_related("user").order_by("created_at")


def pending_orders_report() -> int:
    """Logs each pending order with its customer's username and e-mail (its items at
    DEBUG); those pending longer than PENDING_ORDER_STALE_AFTER at WARNING as stale.
    Returns how many orders are pending. Reads in chunks, so memory stays flat."""
    stale_before = timezone.now() - timedelta(seconds=settings.PENDING_ORDER_STALE_AFTER)
    orders = pending_orders()
    with_items = logger.isEnabledFor(logging.DEBUG)
    if with_items:
        orders = orders.prefetch_related(Prefetch("items", queryset=OrderItem.objects.select_related("book")))
    count = 0
    for order in orders.iterator(chunk_size=CHUNK):
        count += 1
        stale = order.created_at < stale_before
        logger.log(
            logging.WARNING if stale else logging.INFO,
            "%s order %s: customer %s <%s>, total %s, placed %s",
            "Stale pending" if stale else "Pending",
            order.id,
            order.user.username,
            order.user.email,
            order.total,
            timezone.localtime(order.created_at).isoformat(timespec="seconds"),
            extra={"order_id": str(order.id), "customer": order.user.username, "stale": stale},
        )
        if with_items:
            for item in order.items.all():
                logger.debug(
                    "  item of %s: %s x %s at %s", order.id, item.quantity, item.book.title, item.unit_price
                )
    logger.info("%s pending orders", count, extra={"pending": count})
    return count
