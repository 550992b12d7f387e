import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import LowStockAlert, WarehouseInventory
from inventory.tests.factories import LowStockAlertFactory, WarehouseInventoryFactory

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
    assert LowStockAlert.objects.filter(stock=alert.stock, resolved_at__isnull=True).count() == 1
