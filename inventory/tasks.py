"""Inventory jobs: thin adapters over services."""

from inventory.exceptions import (
    AlertNotFound,
    InvalidInventoryId,
    InvalidWarehouseAnswer,
    StockNotFound,
    WarehouseStockUnknown,
)
from inventory.services import alert_notify, stock_check_low, stock_sync
from worker.registry import task


@task(
    "inventory:sync",
    queue="default",
    max_retries=3,
    timeout=120,
    purpose="Asks the warehouse system for one book's stock in one warehouse and applies it.",
    # WarehouseUnavailable (no answer in time, 5xx, connection refused) is retried.
    throws=(InvalidInventoryId, StockNotFound, WarehouseStockUnknown, InvalidWarehouseAnswer),
)
def sync_inventory(warehouse_id: str, book_id: str) -> dict:
    result = stock_sync(warehouse_id=warehouse_id, book_id=book_id)
    return {"quantity": result.quantity, "previous": result.previous, "restocked": result.restocked}


@task(
    "inventory:check_low_stock",
    queue="default",
    max_retries=1,
    timeout=120,
    max_concurrency=1,
    purpose="Opens an alert per newly low stock row, enqueues their e-mails, resolves recovered ones.",
)
def check_low_stock() -> dict:
    result = stock_check_low()
    return {"opened": result.opened, "resolved": result.resolved}


@task(
    "inventory:low_stock_alert",
    queue="default",
    max_retries=2,
    timeout=30,
    purpose="E-mails LOW_STOCK_ALERT_EMAILS about one alert and marks it notified (once).",
    throws=(InvalidInventoryId, AlertNotFound),
)
def send_low_stock_alert(alert_id: str) -> dict:
    return {"sent": alert_notify(alert_id=alert_id)}
