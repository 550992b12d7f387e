from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from inventory.models import Book, LowStockAlert, Warehouse, WarehouseInventory


class BookFactory(DjangoModelFactory):
    class Meta:
        model = Book

    title = factory.Sequence(lambda n: f"Book {n:05d}")
    author = factory.Faker("name")
    isbn = factory.Sequence(lambda n: f"979{n:010d}")
    price = Decimal("120000.00")
    is_active = True


class WarehouseFactory(DjangoModelFactory):
    class Meta:
        model = Warehouse

    name = factory.Sequence(lambda n: f"Warehouse {n}")
    code = factory.Sequence(lambda n: f"WH{n:03d}")


class WarehouseInventoryFactory(DjangoModelFactory):
    class Meta:
        model = WarehouseInventory

    book = factory.SubFactory(BookFactory)
    warehouse = factory.SubFactory(WarehouseFactory)
    quantity = 50
    alert_threshold = 10


class LowStockAlertFactory(DjangoModelFactory):
    class Meta:
        model = LowStockAlert

    stock = factory.SubFactory(WarehouseInventoryFactory, quantity=3)
    quantity = factory.SelfAttribute("stock.quantity")
    threshold = factory.SelfAttribute("stock.alert_threshold")
