import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carts.models import Cart, CartItem
from carts.services import carts_delete_expired
from carts.tasks import cleanup_expired_carts
from carts.tests.factories import CartFactory, CartItemFactory

pytestmark = pytest.mark.django_db


def test_expired_carts_go_with_their_items_and_active_ones_stay():
    expired = [CartItemFactory(cart=CartFactory(expired=True)).cart for _ in range(3)]
    active = CartItemFactory(cart=CartFactory()).cart
    assert cleanup_expired_carts() == {"deleted": 3}
    assert list(Cart.objects.all()) == [active]
    assert CartItem.objects.filter(cart_id__in=[c.id for c in expired]).count() == 0
    assert CartItem.objects.filter(cart=active).count() == 1


def test_deletion_goes_in_bounded_batches():
    for _ in range(10):
        CartItemFactory(cart=CartFactory(expired=True))
    with CaptureQueriesContext(connection) as queries:
        assert carts_delete_expired(batch_size=3) == 10
    cart_deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "carts_cart"')]
    assert len(cart_deletes) == 4  # 3 + 3 + 3 + 1
    assert Cart.objects.count() == 0


def test_a_second_run_finds_nothing_to_delete():
    CartFactory(expired=True)
    assert cleanup_expired_carts() == {"deleted": 1}
    assert cleanup_expired_carts() == {"deleted": 0}
