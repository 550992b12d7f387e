from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone


def expired_at(now: dt.datetime) -> Q:
    """Carts expired at ``now``: their ``expires_at`` has come (docs/design.md, cart:cleanup)."""
    return Q(expires_at__lte=now)


class CartQuerySet(models.QuerySet):
    def expired(self, *, now: dt.datetime | None = None) -> CartQuerySet:
        return self.filter(expired_at(now or timezone.now()))

    def active(self, *, now: dt.datetime | None = None) -> CartQuerySet:
        return self.exclude(expired_at(now or timezone.now()))

    def with_is_expired(self, *, now: dt.datetime | None = None) -> CartQuerySet:
        """Each cart with ``is_expired``, computed by the database from the same rule."""
        return self.annotate(
            is_expired=ExpressionWrapper(expired_at(now or timezone.now()), output_field=BooleanField())
        )


class Cart(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts")
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CartQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Cart #{self.pk} of {self.user}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    book = models.ForeignKey("inventory.Book", on_delete=models.CASCADE, related_name="+")
    quantity = models.IntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "book"], name="cart_item_one_row_per_book"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cart_item_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.book}"
