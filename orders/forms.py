"""The admin's "Place order" form: who orders, how they pay, which books and how many.

These forms only parse what staff typed (a known customer, a known book, a number);
whether that makes an acceptable order is ``order_place``'s to decide, and its refusal
is shown on the form by the admin.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model

from inventory.models import Book
from orders.models import Order, OrderItem, PaymentMethod
from orders.services import OrderLine

UNKNOWN_CUSTOMER = "No customer with id %(value)s."
UNKNOWN_BOOK = "No book with id %(value)s."
DUPLICATE_BOOK = "“{book}” is on more than one line: put its whole quantity on one line."
# OrderItem.quantity is a PostgreSQL integer: a larger number would fail in the database.
MAX_QUANTITY = 2**31 - 1
MONEY = {"max_digits": 12, "decimal_places": 2, "required": False, "initial": Decimal("0")}


class PlaceOrderForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(),
        label="Customer",
        error_messages={"invalid_choice": UNKNOWN_CUSTOMER},
    )
    payment_method = forms.ChoiceField(choices=PaymentMethod.choices)
    shipping_fee = forms.DecimalField(**MONEY)
    discount_amount = forms.DecimalField(**MONEY)

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.fields["user"]
        user.widget = ForeignKeyRawIdWidget(Order._meta.get_field("user").remote_field, admin_site)
        user.widget.is_required = user.required

    def clean_shipping_fee(self) -> Decimal:
        return self.cleaned_data["shipping_fee"] or Decimal("0")

    def clean_discount_amount(self) -> Decimal:
        return self.cleaned_data["discount_amount"] or Decimal("0")


class BookAutocomplete(AutocompleteSelect):
    """Django's autocomplete widget looks the submitted value up in the database to show
    it again; a value that is not a UUID would crash the page meant to report it."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if _is_uuid(v)], attr)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class OrderLineForm(forms.Form):
    book = forms.ModelChoiceField(
        queryset=Book.objects.all(), error_messages={"invalid_choice": UNKNOWN_BOOK}
    )
    # No lower bound here: order_place refuses quantities below 1, with its own message.
    quantity = forms.IntegerField(initial=1, max_value=MAX_QUANTITY)

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        book = self.fields["book"]
        book.widget = BookAutocomplete(OrderItem._meta.get_field("book"), admin_site)
        book.widget.choices, book.widget.is_required = book.choices, book.required


class BaseOrderLineFormSet(forms.BaseFormSet):
    """Rows left blank are ignored; a book on two rows is refused (staff most likely
    meant one line with the sum, and the order would show the book twice)."""

    def clean(self) -> None:
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            book = form.cleaned_data.get("book")
            if book is None:
                continue
            if book.pk in seen:
                raise forms.ValidationError(DUPLICATE_BOOK.format(book=book), code="duplicate_book")
            seen.add(book.pk)

    def lines(self) -> list[OrderLine]:
        return [
            OrderLine(book_id=str(form.cleaned_data["book"].pk), quantity=form.cleaned_data["quantity"])
            for form in self.forms
            if form.cleaned_data
        ]


OrderLineFormSet = forms.formset_factory(OrderLineForm, formset=BaseOrderLineFormSet, extra=5)
