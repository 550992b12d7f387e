"""Orders in their initial state. A confirmed (or later) order is made by the
status-change service, not by writing the status field here."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from inventory.tests.factories import BookFactory
from orders.models import Order, OrderItem, OrderStatusHistory, PaymentMethod
from tests.factories import UserFactory


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = Order

    user = factory.SubFactory(UserFactory)
    payment_method = PaymentMethod.VNPAY
    subtotal = Decimal("0.00")
    discount_amount = Decimal("0.00")
    shipping_fee = Decimal("0.00")
    total = factory.LazyAttribute(lambda o: o.subtotal - o.discount_amount + o.shipping_fee)


class OrderItemFactory(DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    book = factory.SubFactory(BookFactory)
    quantity = 1
    unit_price = factory.SelfAttribute("book.price")


class OrderStatusHistoryFactory(DjangoModelFactory):
    class Meta:
        model = OrderStatusHistory

    order = factory.SubFactory(OrderFactory)
    old_status = ""
    new_status = "pending"
