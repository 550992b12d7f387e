from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from carts.models import Cart, CartItem
from carts.tests.factories import CartFactory, CartItemFactory

pytestmark = pytest.mark.django_db


def test_expired_and_active_carts_follow_one_rule():
    expired, active = CartFactory(expired=True), CartFactory()
    assert list(Cart.objects.expired()) == [expired]
    assert list(Cart.objects.active()) == [active]
    flags = dict(Cart.objects.with_is_expired().values_list("id", "is_expired"))
    assert flags == {expired.id: True, active.id: False}


def test_a_cart_expires_at_its_expires_at():
    cart = CartFactory()
    assert not Cart.objects.expired(now=cart.expires_at - timedelta(microseconds=1)).exists()
    assert Cart.objects.expired(now=cart.expires_at).get() == cart


def test_an_item_quantity_of_zero_is_refused():
    item = CartItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CartItem.objects.filter(pk=item.pk).update(quantity=0)
