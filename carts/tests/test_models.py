import pytest
from django.db import IntegrityError, transaction

from carts.models import CartItem
from carts.tests.factories import CartFactory, CartItemFactory

pytestmark = pytest.mark.django_db


def test_a_cart_knows_whether_it_expired():
    assert CartFactory(expired=True).is_expired
    assert not CartFactory().is_expired


def test_an_item_quantity_of_zero_is_refused():
    item = CartItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CartItem.objects.filter(pk=item.pk).update(quantity=0)
