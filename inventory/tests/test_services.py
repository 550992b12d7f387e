import uuid

import pytest
from django.core import mail
from django.utils import timezone

from inventory.exceptions import AlertNotFound, InvalidInventoryId, StockNotFound
from inventory.models import LowStockAlert, WarehouseInventory
from inventory.services import alert_notify, stock_check_low, stock_sync
from inventory.tasks import check_low_stock, send_low_stock_alert, sync_inventory
from inventory.tests.factories import BookFactory, LowStockAlertFactory, WarehouseInventoryFactory
from worker.queues import get_queue

pytestmark = pytest.mark.django_db


class FixedGateway:
    def __init__(self, quantity):
        self.quantity = quantity

    def fetch_quantity(self, *, warehouse_id, book_id):
        return self.quantity


@pytest.fixture
def gateway(monkeypatch):
    def use(quantity):
        monkeypatch.setattr("inventory.services.get_gateway", lambda: FixedGateway(quantity))

    return use


# --- sync ----------------------------------------------------------------------------


def test_sync_applies_the_warehouse_quantity_and_stamps_a_restock_when_it_rose(gateway):
    stock = WarehouseInventoryFactory(quantity=5)
    gateway(30)
    assert sync_inventory(str(stock.warehouse_id), str(stock.book_id)) == {
        "quantity": 30,
        "previous": 5,
        "restocked": True,
    }
    stock.refresh_from_db()
    assert stock.quantity == 30 and stock.last_synced_at and stock.last_restocked_at == stock.last_synced_at
    restocked_at = stock.last_restocked_at
    gateway(12)
    stock_sync(warehouse_id=str(stock.warehouse_id), book_id=str(stock.book_id))
    stock.refresh_from_db()
    assert (
        stock.quantity == 12
        and stock.last_restocked_at == restocked_at
        and stock.last_synced_at > restocked_at
    )


def test_the_null_gateway_keeps_the_local_quantity_and_stamps_the_sync():
    stock = WarehouseInventoryFactory(quantity=7)
    assert sync_inventory(str(stock.warehouse_id), str(stock.book_id))["quantity"] == 7
    stock.refresh_from_db()
    assert stock.quantity == 7 and stock.last_synced_at is not None and stock.last_restocked_at is None


@pytest.mark.parametrize(
    ("warehouse_id", "book_id", "error", "message"),
    [
        ("nope", str(uuid.uuid4()), InvalidInventoryId, "warehouse 'nope': not a valid id"),
        (str(uuid.uuid4()), "", InvalidInventoryId, "book '': not a valid id"),
        (str(uuid.UUID(int=1)), str(uuid.UUID(int=2)), StockNotFound, "no stock row for book"),
    ],
)
def test_sync_of_an_unknown_stock_row_is_permanent_and_changes_nothing(warehouse_id, book_id, error, message):
    stock = WarehouseInventoryFactory(quantity=5)
    with pytest.raises(error, match=message):
        sync_inventory(warehouse_id, book_id)
    stock.refresh_from_db()
    assert stock.quantity == 5 and stock.last_synced_at is None


# --- low-stock check -----------------------------------------------------------------


def test_the_check_opens_alerts_for_low_rows_of_active_books_only(
    redis_conn, django_capture_on_commit_callbacks
):
    low = [WarehouseInventoryFactory(quantity=q, alert_threshold=10) for q in (1, 10)]
    WarehouseInventoryFactory(quantity=0, alert_threshold=10)  # empty shelf: not low stock
    WarehouseInventoryFactory(quantity=11, alert_threshold=10)
    WarehouseInventoryFactory(quantity=2, alert_threshold=10, book=BookFactory(is_active=False))
    with django_capture_on_commit_callbacks(execute=True):
        assert check_low_stock() == {"opened": 2, "resolved": 0}
    alerts = LowStockAlert.objects.order_by("quantity")
    assert [(a.stock_id, a.quantity, a.threshold) for a in alerts] == [
        (low[0].id, 1, 10),
        (low[1].id, 10, 10),
    ]
    jobs = get_queue("default").get_jobs()
    assert sorted(job.args[0] for job in jobs) == sorted(str(a.id) for a in alerts)
    assert {job.func_name for job in jobs} == {"inventory.tasks.send_low_stock_alert"}


def test_a_second_check_opens_nothing_new_and_enqueues_nothing(
    redis_conn, django_capture_on_commit_callbacks
):
    WarehouseInventoryFactory(quantity=3)
    with django_capture_on_commit_callbacks(execute=True):
        stock_check_low()
    get_queue("default").empty()
    with django_capture_on_commit_callbacks(execute=True):
        assert stock_check_low().opened == 0
    assert LowStockAlert.objects.count() == 1
    assert get_queue("default").count == 0


def test_an_open_alert_not_e_mailed_after_10_minutes_gets_its_e_mail_job_again_once(
    redis_conn, django_capture_on_commit_callbacks
):
    now = timezone.now()
    lost = LowStockAlertFactory(opened_at=now - timezone.timedelta(minutes=11))
    recent = LowStockAlertFactory(opened_at=now - timezone.timedelta(minutes=5))
    sent = LowStockAlertFactory(opened_at=now - timezone.timedelta(minutes=30), notified_at=now)
    for _ in range(2):  # a retried or doubled check: the unique id holds
        with django_capture_on_commit_callbacks(execute=True):
            assert stock_check_low().opened == 0
    jobs = get_queue("default").get_jobs()
    assert [job.args[0] for job in jobs] == [str(lost.id)]
    assert jobs[0].id.startswith(f"low-stock-alert-{lost.id}-")  # recent and sent: none
    assert {recent.id, sent.id}.isdisjoint(int(job.args[0]) for job in jobs)


def test_alerts_resolve_when_stock_is_back_above_the_threshold(redis_conn):
    recovered = LowStockAlertFactory()
    still_low = LowStockAlertFactory()
    WarehouseInventory.objects.filter(pk=recovered.stock_id).update(quantity=50)
    assert stock_check_low().resolved == 1
    recovered.refresh_from_db()
    still_low.refresh_from_db()
    assert recovered.resolved_at is not None and still_low.resolved_at is None
    # Low again later: a new alert opens, the resolved one stays resolved.
    WarehouseInventory.objects.filter(pk=recovered.stock_id).update(quantity=2)
    assert stock_check_low().opened == 1
    assert LowStockAlert.objects.filter(stock_id=recovered.stock_id).count() == 2


# --- alert e-mail --------------------------------------------------------------------


def test_the_alert_email_names_book_warehouse_stock_and_threshold_and_goes_once(settings):
    settings.LOW_STOCK_ALERT_EMAILS = ["stock@bookstore.test", "boss@bookstore.test"]
    alert = LowStockAlertFactory(stock__book__title="The Quiet Tide", stock__warehouse__code="HAN")
    assert send_low_stock_alert(str(alert.id)) == {"sent": True}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["stock@bookstore.test", "boss@bookstore.test"]
    assert "The Quiet Tide" in message.subject and "HAN" in message.subject
    assert f"Stock: {alert.quantity} (threshold {alert.threshold})" in message.body
    alert.refresh_from_db()
    assert alert.notified_at is not None
    assert send_low_stock_alert(str(alert.id)) == {"sent": False}  # a retry after the e-mail went out
    assert len(mail.outbox) == 1


def test_an_alert_resolved_before_sending_is_not_sent():
    alert = LowStockAlertFactory(resolved_at=timezone.now())
    assert alert_notify(alert_id=str(alert.id)) is False
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("alert_id", "error", "message"),
    [("abc", InvalidInventoryId, "not a valid id"), ("999999", AlertNotFound, "no such alert")],
)
def test_an_unknown_alert_is_permanent(alert_id, error, message):
    with pytest.raises(error, match=message):
        send_low_stock_alert(alert_id)
    assert mail.outbox == []
