"""Writes on stock and low-stock alerts."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Value
from django.utils import timezone

from inventory.exceptions import AlertNotFound, InvalidInventoryId, StockNotFound
from inventory.gateways import get_gateway
from inventory.models import LowStockAlert, WarehouseInventory
from worker.queues import TaskCall, enqueue_many

logger = logging.getLogger(__name__)

BAD_ID = "{what} {value!r}: not a valid id"
UNKNOWN_STOCK = "no stock row for book {book_id} in warehouse {warehouse_id}"
UNKNOWN_ALERT = "low-stock alert {alert_id}: no such alert"


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInventoryId(BAD_ID.format(what=what, value=value)) from None


@dataclass(frozen=True)
class SyncResult:
    quantity: int
    previous: int
    restocked: bool


def stock_sync(*, warehouse_id: str, book_id: str) -> SyncResult:
    """Asks the warehouse system for the stock of one book in one warehouse and applies
    it: sets the quantity, stamps last_synced_at, and last_restocked_at when it rose."""
    warehouse_pk, book_pk = _uuid(warehouse_id, "warehouse"), _uuid(book_id, "book")
    stock_rows = WarehouseInventory.objects.filter(warehouse_id=warehouse_pk, book_id=book_pk)
    if not stock_rows.exists():
        raise StockNotFound(UNKNOWN_STOCK.format(book_id=book_pk, warehouse_id=warehouse_pk))
    # The network call stays outside the transaction: no row lock waits on the warehouse.
    remote = get_gateway().fetch_quantity(warehouse_id=str(warehouse_pk), book_id=str(book_pk))
    with transaction.atomic():
        stock = stock_rows.select_for_update().get()
        now = timezone.now()
        previous = stock.quantity
        quantity = previous if remote is None else remote
        stock.quantity = quantity
        stock.last_synced_at = now
        if quantity > previous:
            stock.last_restocked_at = now
        stock.save(update_fields=["quantity", "last_synced_at", "last_restocked_at", "updated_at"])
    return SyncResult(quantity=quantity, previous=previous, restocked=quantity > previous)


def stock_enqueue_sync(*, stock_rows) -> int:
    """Enqueues one ``inventory:sync`` per stock row, in one pipelined batch."""
    calls = [
        TaskCall("inventory:sync", (str(warehouse_id), str(book_id)))
        for warehouse_id, book_id in stock_rows.values_list("warehouse_id", "book_id")
    ]
    enqueue_many(calls)
    return len(calls)


@dataclass(frozen=True)
class LowStockCheck:
    opened: int
    resolved: int


ALERT_RESEND_AFTER = dt.timedelta(minutes=10)
ALERT_JOB = "low-stock-alert"  # job ids: low-stock-alert-<alert id>[-<check time>]


def stock_check_low() -> LowStockCheck:
    """Opens an alert for each low stock row (``WarehouseInventory.objects.low()``) that
    has no open alert, enqueues one ``inventory:low_stock_alert`` per new alert in one
    batch, and resolves open alerts whose stock is back above the threshold.

    Set-wise in SQL: one UPDATE and one INSERT ... SELECT ... ON CONFLICT DO NOTHING, so
    a second run, even a concurrent one, opens nothing new (the partial unique index
    allows one open alert per row)."""
    with transaction.atomic():
        now = timezone.now()
        resolved = (
            LowStockAlert.objects.open()
            .filter(stock__quantity__gt=F("stock__alert_threshold"))
            .update(resolved_at=now)
        )
        newly_low = (
            WarehouseInventory.objects.low()
            .exclude(Exists(LowStockAlert.objects.open().filter(stock=OuterRef("pk"))))
            .order_by()
            .values_list("id", "quantity", "alert_threshold", Value(now, output_field=DateTimeField()))
        )
        select, params = newly_low.query.sql_with_params()
        with connection.cursor() as cursor:
            # Django has no INSERT ... SELECT: the SELECT is the queryset's own SQL.
            cursor.execute(
                f"INSERT INTO {LowStockAlert._meta.db_table} (stock_id, quantity, threshold, opened_at) "
                f"{select} ON CONFLICT DO NOTHING RETURNING id",
                params,
            )
            opened = [row[0] for row in cursor.fetchall()]
        # Belt and braces: an open alert still not e-mailed after ALERT_RESEND_AFTER (its
        # job lost, or failed for good) gets its e-mail job again, once per check.
        unsent = list(
            LowStockAlert.objects.open()
            .filter(notified_at__isnull=True, opened_at__lt=now - ALERT_RESEND_AFTER)
            .values_list("id", flat=True)
        )
        stamp = timezone.localtime(now).strftime("%Y%m%dT%H%M")
        enqueue_many(
            [
                TaskCall("inventory:low_stock_alert", (str(alert_id),), job_id=f"{ALERT_JOB}-{alert_id}")
                for alert_id in opened
            ]
            + [
                TaskCall(
                    "inventory:low_stock_alert",
                    (str(alert_id),),
                    job_id=f"low-stock-alert-{alert_id}-{stamp}",
                )
                for alert_id in unsent
            ]
        )
    if unsent:
        logger.warning(
            "low-stock check: %s open alerts not e-mailed after 10 minutes; sent again", len(unsent)
        )
    logger.info("low-stock check: %s alerts opened, %s resolved", len(opened), resolved)
    return LowStockCheck(opened=len(opened), resolved=resolved)


def alert_notify(*, alert_id: str) -> bool:
    """E-mails the staff in LOW_STOCK_ALERT_EMAILS about one alert and marks it notified.
    Returns False when there was nothing to send: already notified (a retry after the
    e-mail went out), or resolved before anyone was told."""
    try:
        pk = int(str(alert_id))
    except ValueError:
        raise InvalidInventoryId(BAD_ID.format(what="low-stock alert", value=alert_id)) from None
    with transaction.atomic():
        alert = (
            LowStockAlert.objects.select_for_update(of=("self",))
            .select_related("stock__book", "stock__warehouse")
            .filter(pk=pk)
            .first()
        )
        if alert is None:
            raise AlertNotFound(UNKNOWN_ALERT.format(alert_id=pk))
        if alert.notified_at is not None or alert.resolved_at is not None:
            return False
        book, warehouse = alert.stock.book, alert.stock.warehouse
        send_mail(
            subject=f"Low stock: {book.title} at {warehouse.code}",
            message=(
                f"{book.title} (ISBN {book.isbn}) is running low at warehouse "
                f"{warehouse.code} ({warehouse.name}).\n"
                f"Stock: {alert.quantity} (threshold {alert.threshold}).\n"
                f"Alert #{alert.pk}, opened {timezone.localtime(alert.opened_at):%Y-%m-%d %H:%M}."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=settings.LOW_STOCK_ALERT_EMAILS,
        )
        alert.notified_at = timezone.now()
        alert.save(update_fields=["notified_at"])
    return True


def alerts_resolve(*, alerts) -> int:
    """Resolves the given alerts that are still open (staff's "resolve" action)."""
    return alerts.open().update(resolved_at=timezone.now())
