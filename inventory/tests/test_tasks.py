"""The inventory jobs' permanent errors, as declared with ``throws=``. The warehouse's
answers are tested against a real HTTP server in test_gateways.py."""

import uuid

import pytest
from django.db import OperationalError

from inventory.exceptions import (
    AlertNotFound,
    InvalidInventoryId,
    InvalidWarehouseAnswer,
    StockNotFound,
    WarehouseStockUnknown,
    WarehouseUnavailable,
)
from inventory.tasks import send_low_stock_alert, sync_inventory
from worker.registry import registry

pytestmark = pytest.mark.django_db


def error_of(function, *args) -> BaseException:
    with pytest.raises(Exception) as error:
        function(*args)
    return error.value


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (("nope", str(uuid.uuid4())), InvalidInventoryId),
        ((str(uuid.uuid4()), str(uuid.uuid4())), StockNotFound),
    ],
)
def test_a_sync_of_a_stock_row_that_cannot_exist_fails_at_once(args, kind):
    error = error_of(sync_inventory, *args)
    assert type(error) is kind
    assert registry.get("inventory:sync").is_permanent(error)


def test_the_warehouse_refusals_fail_a_sync_at_once_and_its_silence_is_retried():
    sync = registry.get("inventory:sync")
    assert sync.is_permanent(WarehouseStockUnknown("404"))
    assert sync.is_permanent(InvalidWarehouseAnswer("'<html>'"))
    assert not sync.is_permanent(WarehouseUnavailable("HTTP 503"))
    assert not sync.is_permanent(OperationalError("the database is starting up"))


@pytest.mark.parametrize(("alert_id", "kind"), [("abc", InvalidInventoryId), ("999999", AlertNotFound)])
def test_an_alert_that_cannot_exist_fails_at_once(alert_id, kind):
    error = error_of(send_low_stock_alert, alert_id)
    assert type(error) is kind
    assert registry.get("inventory:low_stock_alert").is_permanent(error)


def test_the_alert_e_mail_and_the_low_stock_check_retry_anything_else():
    assert not registry.get("inventory:low_stock_alert").is_permanent(ConnectionRefusedError("smtp down"))
    check = registry.get("inventory:check_low_stock")
    assert check.throws == ()
    assert not check.is_permanent(RuntimeError("boom"))
