from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from orders.models import ALLOWED_TRANSITIONS, Order, OrderItem, OrderStatus
from orders.tests.factories import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("quantity", [0, -2])
def test_an_item_quantity_of_zero_or_less_is_refused(quantity):
    item = OrderItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderItem.objects.filter(pk=item.pk).update(quantity=quantity)


def test_a_total_that_does_not_add_up_is_refused():
    order = OrderFactory(
        subtotal=Decimal("100.00"), discount_amount=Decimal("10.00"), shipping_fee=Decimal("5.00")
    )
    assert order.total == Decimal("95.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(total=Decimal("100.00"))


def test_a_discount_larger_than_the_subtotal_is_refused():
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(subtotal=Decimal("10.00"), discount_amount=Decimal("20.00"))


def test_an_unknown_status_is_refused_by_the_database():
    order = OrderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(status="lost")


def test_the_status_graph_is_the_designed_one():
    reachable = {status: sorted(targets) for status, targets in ALLOWED_TRANSITIONS.items() if targets}
    assert reachable == {
        "pending": ["cancelled", "confirmed"],
        "confirmed": ["cancelled", "processing"],
        "processing": ["shipping"],
        "shipping": ["delivered"],
        "delivered": ["completed"],
    }
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus.values)
