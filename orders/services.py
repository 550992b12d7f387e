"""Writes on orders: placing one, and moving it along the status graph."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.models import Book
from orders.exceptions import ForbiddenStatusChange, InvalidOrderId, OrderNotFound, UnknownOrderStatus
from orders.models import (
    ALLOWED_TRANSITIONS,
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusHistory,
    PaymentMethod,
)
from worker.queues import enqueue

logger = logging.getLogger(__name__)

COD_AUTO_CONFIRM_NOTE = "Auto-confirmed COD order"
BAD_ORDER_ID = "order {order_id!r}: not a valid order id (a UUID is expected)"
UNKNOWN_ORDER = "order {order_id}: no such order"
UNKNOWN_STATUS = "order {order_id}: {new_status!r} is not an order status (one of {statuses})"
FORBIDDEN_CHANGE = "order {order_id}: status change {old_status} -> {new_status} is not allowed"


@dataclass(frozen=True)
class OrderLine:
    book_id: str
    quantity: int


@dataclass(frozen=True)
class StatusChange:
    order_id: str
    old_status: str
    new_status: str
    changed: bool


def parse_order_id(order_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(order_id))
    except ValueError:
        raise InvalidOrderId(BAD_ORDER_ID.format(order_id=order_id)) from None


def order_update_status(*, order_id: str, new_status: str, note: str = "") -> StatusChange:
    """Moves an order to ``new_status`` and writes its history row, in one transaction
    under a row lock. Setting the status the order already has changes nothing.

    A bad id, an unknown order, an unknown status or a change the status graph does not
    allow raises InvalidOrderId, OrderNotFound, UnknownOrderStatus or
    ForbiddenStatusChange, naming the order and the change.
    """
    pk = parse_order_id(order_id)
    if new_status not in OrderStatus.values:
        raise UnknownOrderStatus(
            UNKNOWN_STATUS.format(order_id=pk, new_status=new_status, statuses=", ".join(OrderStatus.values))
        )
    with transaction.atomic():
        order = Order.objects.select_for_update().only("id", "status").filter(pk=pk).first()
        if order is None:
            raise OrderNotFound(UNKNOWN_ORDER.format(order_id=pk))
        old_status = order.status
        if old_status == new_status:
            return StatusChange(str(pk), old_status, new_status, changed=False)
        if new_status not in ALLOWED_TRANSITIONS[old_status]:
            raise ForbiddenStatusChange(
                FORBIDDEN_CHANGE.format(order_id=pk, old_status=old_status, new_status=new_status)
            )
        Order.objects.filter(pk=pk).update(status=new_status, updated_at=timezone.now())
        OrderStatusHistory.objects.create(
            order_id=pk, old_status=old_status, new_status=new_status, note=note
        )
    logger.debug("order %s: %s -> %s", pk, old_status, new_status)
    return StatusChange(str(pk), old_status, new_status, changed=True)


def order_place(
    *,
    user,
    payment_method: str,
    lines: list[OrderLine],
    discount_amount: Decimal = Decimal("0"),
    shipping_fee: Decimal = Decimal("0"),
) -> Order:
    """Creates the order and its items in one transaction, pricing the items at the
    books' current prices. A cash-on-delivery order confirms itself
    ``COD_AUTO_CONFIRM_DELAY`` seconds after the transaction commits."""
    if payment_method not in PaymentMethod.values:
        raise ValueError(
            f"unknown payment method {payment_method!r} (one of {', '.join(PaymentMethod.values)})"
        )
    if not lines:
        raise ValueError("an order needs at least one item")
    if any(line.quantity <= 0 for line in lines):
        raise ValueError("item quantities must be positive")
    if discount_amount < 0 or shipping_fee < 0:
        raise ValueError("discount and shipping fee cannot be negative")
    with transaction.atomic():
        books = Book.objects.in_bulk([line.book_id for line in lines])
        missing = [line.book_id for line in lines if uuid.UUID(str(line.book_id)) not in books]
        if missing:
            raise ValueError(f"unknown books: {', '.join(map(str, missing))}")
        items = [
            OrderItem(
                book=books[uuid.UUID(str(line.book_id))],
                quantity=line.quantity,
                unit_price=books[uuid.UUID(str(line.book_id))].price,
            )
            for line in lines
        ]
        subtotal = sum((item.unit_price * item.quantity for item in items), Decimal("0"))
        if discount_amount > subtotal:
            raise ValueError(f"discount {discount_amount} is larger than the subtotal {subtotal}")
        order = Order.objects.create(
            user=user,
            payment_method=payment_method,
            subtotal=subtotal,
            discount_amount=discount_amount,
            shipping_fee=shipping_fee,
            total=subtotal - discount_amount + shipping_fee,
        )
        for item in items:
            item.order = order
        OrderItem.objects.bulk_create(items)
        OrderStatusHistory.objects.create(
            order=order, old_status="", new_status=OrderStatus.PENDING, note="Order placed"
        )
        if payment_method == PaymentMethod.COD:
            order_schedule_cod_confirm(order_id=order.id, placed_at=timezone.now())
    return order


def order_schedule_cod_confirm(*, order_id: uuid.UUID, placed_at: dt.datetime) -> str:
    """Enqueues the automatic confirmation of a cash-on-delivery order,
    ``COD_AUTO_CONFIRM_DELAY`` seconds after ``placed_at``, under a fixed job id: once per
    order, however often it is asked. Inside a transaction it goes out with the commit."""
    return enqueue(
        "order:update_status",
        str(order_id),
        OrderStatus.CONFIRMED,
        COD_AUTO_CONFIRM_NOTE,
        at=placed_at + dt.timedelta(seconds=settings.COD_AUTO_CONFIRM_DELAY),
        job_id=f"cod-confirm-{order_id}",
    )
