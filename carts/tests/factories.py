from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from carts.models import Cart, CartItem
from inventory.tests.factories import BookFactory
from tests.factories import UserFactory


class CartFactory(DjangoModelFactory):
    class Meta:
        model = Cart

    user = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    class Params:
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1)))


class CartItemFactory(DjangoModelFactory):
    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    book = factory.SubFactory(BookFactory)
    quantity = 1
