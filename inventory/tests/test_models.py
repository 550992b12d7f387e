import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import LOW_STOCK_LEVEL, LowStockAlert, WarehouseInventory
from inventory.tests.factories import BookFactory, LowStockAlertFactory, WarehouseInventoryFactory

pytestmark = pytest.mark.django_db


def test_negative_stock_is_refused_by_the_database():
    stock = WarehouseInventoryFactory(quantity=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        WarehouseInventory.objects.filter(pk=stock.pk).update(quantity=-1)
    stock.refresh_from_db()
    assert stock.quantity == 5


def test_a_second_row_for_the_same_book_and_warehouse_is_refused():
    stock = WarehouseInventoryFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        WarehouseInventory.objects.create(book=stock.book, warehouse=stock.warehouse, quantity=1)


def test_a_second_open_alert_for_the_same_stock_row_is_refused():
    alert = LowStockAlertFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        LowStockAlert.objects.create(stock=alert.stock, quantity=2, threshold=10)
    assert LowStockAlert.objects.filter(stock=alert.stock).count() == 1


def test_a_new_alert_may_open_once_the_previous_one_is_resolved():
    alert = LowStockAlertFactory()
    alert.resolved_at = timezone.now()
    alert.save()
    LowStockAlert.objects.create(stock=alert.stock, quantity=2, threshold=10)
    assert LowStockAlert.objects.open().filter(stock=alert.stock).count() == 1


def test_low_stock_is_some_left_at_most_the_threshold_of_an_active_book():
    low = [WarehouseInventoryFactory(quantity=q, alert_threshold=10) for q in (1, 10)]
    WarehouseInventoryFactory(quantity=0, alert_threshold=10)  # empty shelf
    WarehouseInventoryFactory(quantity=11, alert_threshold=10)
    WarehouseInventoryFactory(quantity=0, alert_threshold=0)
    WarehouseInventoryFactory(quantity=2, alert_threshold=10, book=BookFactory(is_active=False))
    assert set(WarehouseInventory.objects.low()) == set(low)


def test_the_low_stock_index_covers_the_rule():
    (index,) = [i for i in WarehouseInventory._meta.indexes if i.name == "stock_low_idx"]
    assert index.condition == LOW_STOCK_LEVEL


def test_open_and_resolved_alerts():
    open_alert = LowStockAlertFactory()
    resolved = LowStockAlertFactory(resolved_at=timezone.now())
    assert list(LowStockAlert.objects.open()) == [open_alert]
    assert list(LowStockAlert.objects.resolved()) == [resolved]
