"""Staff act through the services: the admin places orders with order_place and moves
them with order_update_status, and a refused request changes nothing."""

import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils.html import escape

from inventory.tests.factories import BookFactory
from orders.admin import ALREADY_IN_STATUS, ORDERS_MOVED, STATUS_ACTIONS
from orders.forms import DUPLICATE_BOOK, UNKNOWN_BOOK, UNKNOWN_CUSTOMER
from orders.models import ALLOWED_TRANSITIONS, Order, OrderItem, OrderStatus, OrderStatusHistory
from orders.services import COD_AUTO_CONFIRM_NOTE, order_update_status
from orders.tests.factories import OrderFactory
from tests.factories import UserFactory
from worker.models import OutboxJob
from worker.queues import get_queue

pytestmark = pytest.mark.django_db

STAFF_USERNAME = "desk-lan"
PLACE_URL = reverse("admin:orders_order_add")
CHANGELIST_URL = reverse("admin:orders_order_changelist")

# The statuses on the way from pending to each status, through the service.
PATH_TO = {
    "pending": [],
    "confirmed": ["confirmed"],
    "processing": ["confirmed", "processing"],
    "shipping": ["confirmed", "processing", "shipping"],
    "delivered": ["confirmed", "processing", "shipping", "delivered"],
    "completed": ["confirmed", "processing", "shipping", "delivered", "completed"],
    "cancelled": ["cancelled"],
}
ALLOWED = [(old, new) for old, targets in ALLOWED_TRANSITIONS.items() for new in sorted(targets)]
FORBIDDEN = [
    (old, new)
    for old in OrderStatus.values
    for new in OrderStatus.values
    if new != old and new not in ALLOWED_TRANSITIONS[old]
]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username=STAFF_USERNAME, is_staff=True, is_superuser=True))
    return client


def order_at(status: str) -> Order:
    order = OrderFactory()
    for step in PATH_TO[status]:
        order_update_status(order_id=str(order.id), new_status=step, note="setup")
    order.refresh_from_db()
    assert order.status == status
    return order


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def history(order) -> list[tuple[str, str, str]]:
    return list(order.status_history.values_list("old_status", "new_status", "note"))


def status_url(order) -> str:
    return reverse("admin:orders_order_status", args=[order.pk])


def change_url(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


# --- placing an order ----------------------------------------------------------------


def place_data(*, user, payment_method="cod", lines=(), shipping_fee="", discount_amount="", rows=5):
    """The POST of the Place order page: ``lines`` are (book id, quantity) pairs, the
    remaining rows of the formset left blank as a browser sends them."""
    data = {
        "user": str(user),
        "payment_method": payment_method,
        "shipping_fee": shipping_fee,
        "discount_amount": discount_amount,
        "lines-TOTAL_FORMS": str(rows),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for index in range(rows):
        book, quantity = lines[index] if index < len(lines) else ("", "1")
        data[f"lines-{index}-book"] = str(book)
        data[f"lines-{index}-quantity"] = str(quantity)
    return data


def nothing_was_written():
    return (
        Order.objects.count(),
        OrderItem.objects.count(),
        OrderStatusHistory.objects.count(),
        OutboxJob.objects.count(),
    ) == (0, 0, 0, 0)


def test_the_add_order_button_leads_to_the_place_order_page(staff_client):
    changelist = staff_client.get(CHANGELIST_URL).content.decode()
    assert f'href="{PLACE_URL}"' in changelist
    response = staff_client.get(PLACE_URL)
    assert response.status_code == 200
    assert response.templates[0].name == "admin/orders/order/place_order.html"
    body = response.content.decode()
    assert "<h1>Place order</h1>" in body
    assert body.count('class="order-line"') == 5
    # The book rows search the books as the order items' inline does.
    assert 'data-model-name="orderitem"' in body and 'data-field-name="book"' in body


def test_placing_a_cod_order_prices_it_writes_its_history_and_schedules_its_confirmation(
    staff_client, redis_conn, settings, django_capture_on_commit_callbacks
):
    settings.COD_AUTO_CONFIRM_DELAY = 3600
    customer = UserFactory(username="binh")
    a, b = BookFactory(price=Decimal("120000.00")), BookFactory(price=Decimal("35500.50"))
    data = place_data(
        user=customer.pk,
        lines=[(a.pk, 2), (b.pk, 3)],
        shipping_fee="15000.00",
        discount_amount="10000.00",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(PLACE_URL, data)
        order = Order.objects.get()
        # Written in the order's transaction, sent to Redis once it commits.
        outbox = OutboxJob.objects.get()
        assert (outbox.job_id, outbox.task, outbox.args) == (
            f"cod-confirm-{order.id}",
            "order:update_status",
            [str(order.id), "confirmed", COD_AUTO_CONFIRM_NOTE],
        )
    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert messages_of(response) == [("success", f"Placed {order} for binh, total 351501.50.")]
    assert (order.user, order.payment_method, order.status) == (customer, "cod", "pending")
    assert (order.subtotal, order.discount_amount, order.shipping_fee, order.total) == (
        Decimal("346501.50"),
        Decimal("10000.00"),
        Decimal("15000.00"),
        Decimal("351501.50"),
    )
    assert sorted(order.items.values_list("book_id", "quantity", "unit_price")) == sorted(
        [(a.pk, 2, Decimal("120000.00")), (b.pk, 3, Decimal("35500.50"))]
    )
    assert history(order) == [("", "pending", "Order placed")]
    assert not OutboxJob.objects.exists()  # delivered after the commit
    registry = get_queue("default").scheduled_job_registry
    assert registry.get_job_ids() == [f"cod-confirm-{order.id}"]
    # The order page shows what was placed.
    body = staff_client.get(change_url(order)).content.decode()
    assert "351501.50" in body and a.title in body and b.title in body and "Order placed" in body


@pytest.mark.parametrize("payment_method", ["vnpay", "momo"])
def test_placing_a_prepaid_order_schedules_no_confirmation(
    staff_client, redis_conn, payment_method, django_capture_on_commit_callbacks
):
    book = BookFactory(price=Decimal("99999.99"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            PLACE_URL, place_data(user=UserFactory().pk, payment_method=payment_method, lines=[(book.pk, 1)])
        )
        assert not OutboxJob.objects.exists()
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert (order.payment_method, order.total) == (payment_method, Decimal("99999.99"))
    assert history(order) == [("", "pending", "Order placed")]
    assert callbacks == []
    assert get_queue("default").scheduled_job_registry.count == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown book", UNKNOWN_BOOK),
        ("book id not a uuid", "“not-a-book” is not a valid UUID."),
        ("quantity 0", "item quantities must be positive"),
        ("quantity -2", "item quantities must be positive"),
        ("quantity not a number", "Enter a whole number."),
        ("quantity without a book", "This field is required."),
        ("no lines", "an order needs at least one item"),
        ("same book twice", DUPLICATE_BOOK),
        ("unknown customer", UNKNOWN_CUSTOMER),
        ("no customer", "This field is required."),
        ("unknown payment method", "Select a valid choice. cash is not one of the available choices."),
        ("discount above the subtotal", "discount 500000.00 is larger than the subtotal 240000.00"),
        ("negative shipping fee", "discount and shipping fee cannot be negative"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_changes_nothing(
    staff_client, redis_conn, case, message, django_capture_on_commit_callbacks
):
    book = BookFactory(title="Dế Mèn phiêu lưu ký", price=Decimal("120000.00"))
    customer = UserFactory()
    missing = uuid.uuid4()
    data = {
        "unknown book": place_data(user=customer.pk, lines=[(book.pk, 1), (missing, 1)]),
        "book id not a uuid": place_data(user=customer.pk, lines=[("not-a-book", 1)]),
        "quantity 0": place_data(user=customer.pk, lines=[(book.pk, 0)]),
        "quantity -2": place_data(user=customer.pk, lines=[(book.pk, -2)]),
        "quantity not a number": place_data(user=customer.pk, lines=[(book.pk, "two")]),
        "quantity without a book": place_data(user=customer.pk, lines=[("", 4)]),
        "no lines": place_data(user=customer.pk, lines=[]),
        "same book twice": place_data(user=customer.pk, lines=[(book.pk, 1), (book.pk, 2)]),
        "unknown customer": place_data(user=customer.pk + 1000, lines=[(book.pk, 1)]),
        "no customer": place_data(user="", lines=[(book.pk, 1)]),
        "unknown payment method": place_data(user=customer.pk, payment_method="cash", lines=[(book.pk, 1)]),
        "discount above the subtotal": place_data(
            user=customer.pk, lines=[(book.pk, 2)], discount_amount="500000.00"
        ),
        "negative shipping fee": place_data(user=customer.pk, lines=[(book.pk, 1)], shipping_fee="-1"),
    }[case]
    expected = {
        UNKNOWN_BOOK: UNKNOWN_BOOK % {"value": missing},
        DUPLICATE_BOOK: DUPLICATE_BOOK.format(book=book),
        UNKNOWN_CUSTOMER: UNKNOWN_CUSTOMER % {"value": customer.pk + 1000},
    }.get(message, message)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(PLACE_URL, data)
    assert response.status_code == 200  # the form again, not a redirect
    body = response.content.decode()
    assert escape(expected) in body
    assert 'class="errornote"' in body
    assert nothing_was_written()
    assert callbacks == []
    assert get_queue("default").scheduled_job_registry.count == 0


def test_the_typed_rows_come_back_with_the_error(staff_client):
    book = BookFactory()
    response = staff_client.post(PLACE_URL, place_data(user=UserFactory().pk, lines=[(book.pk, 0)]))
    line = response.context["lines"].forms[0]
    assert (line["book"].value(), line["quantity"].value()) == (str(book.pk), "0")
    assert f'<option value="{book.pk}" selected>{book.title}</option>' in response.content.decode()


def test_staff_without_the_add_permission_cannot_place_orders(client):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)
    book = BookFactory()
    assert client.get(PLACE_URL).status_code == 403
    assert client.post(PLACE_URL, place_data(user=clerk.pk, lines=[(book.pk, 1)])).status_code == 403
    assert nothing_was_written()


# --- status changes on the order's page ----------------------------------------------


@pytest.mark.parametrize("status", OrderStatus.values)
def test_the_order_page_offers_exactly_the_changes_the_graph_allows(staff_client, status):
    order = order_at(status)
    body = staff_client.get(change_url(order)).content.decode()
    offered = re.findall(r'<button type="submit" name="new_status" value="(\w+)"', body)
    assert sorted(offered) == sorted(ALLOWED_TRANSITIONS[status])
    assert f'action="{status_url(order)}"' in body


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_an_allowed_change_moves_the_order_and_writes_its_history(staff_client, old, new):
    order = order_at(old)
    before = history(order)
    response = staff_client.post(status_url(order), {"new_status": new})
    assert response.status_code == 302 and response["Location"] == change_url(order)
    order.refresh_from_db()
    assert order.status == new
    assert history(order) == [*before, (old, new, f"by staff {STAFF_USERNAME}")]
    label = OrderStatus(new).label.lower()
    assert messages_of(response) == [("success", ORDERS_MOVED.format(count=1, status=label))]


@pytest.mark.parametrize(("old", "new"), FORBIDDEN)
def test_a_forbidden_change_is_reported_and_changes_nothing(staff_client, old, new):
    order = order_at(old)
    before = (history(order), order.updated_at)
    response = staff_client.post(status_url(order), {"new_status": new})
    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert messages_of(response) == [
        ("error", f"order {order.id}: status change {old} -> {new} is not allowed")
    ]
    order.refresh_from_db()
    assert order.status == old
    assert (history(order), order.updated_at) == before


def test_the_status_it_already_has_changes_nothing(staff_client):
    order = order_at("confirmed")
    before = history(order)
    response = staff_client.post(status_url(order), {"new_status": "confirmed"})
    assert messages_of(response) == [
        ("warning", ALREADY_IN_STATUS.format(order_id=order.id, status="confirmed"))
    ]
    assert history(order) == before


def test_an_unknown_status_is_reported_and_changes_nothing(staff_client):
    order = order_at("pending")
    response = staff_client.post(status_url(order), {"new_status": "lost"})
    assert [level for level, _ in messages_of(response)] == ["error"]
    assert "'lost' is not an order status" in messages_of(response)[0][1]
    order.refresh_from_db()
    assert (order.status, len(history(order))) == ("pending", 0)


def test_a_status_change_needs_a_post(staff_client):
    order = order_at("pending")
    assert staff_client.get(status_url(order), {"new_status": "confirmed"}).status_code == 405
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_status_change_of_a_missing_order_goes_back_to_the_list(staff_client):
    response = staff_client.post(
        reverse("admin:orders_order_status", args=[uuid.uuid4()]), {"new_status": "confirmed"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert not OrderStatusHistory.objects.exists()


def test_staff_who_may_only_view_orders_cannot_change_their_status(client):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(clerk)
    order = order_at("pending")
    body = client.get(change_url(order)).content.decode()
    assert 'name="new_status"' not in body
    assert client.post(status_url(order), {"new_status": "confirmed"}).status_code == 403
    order.refresh_from_db()
    assert (order.status, len(history(order))) == ("pending", 0)


# --- status changes as bulk actions --------------------------------------------------


@pytest.mark.parametrize("action", STATUS_ACTIONS)
def test_a_bulk_action_moves_the_orders_it_may_and_reports_each_it_may_not(staff_client, action):
    new_status, _label = STATUS_ACTIONS[action]
    sources = [s for s in OrderStatus.values if new_status in ALLOWED_TRANSITIONS[s]]
    refused_sources = [s for s in OrderStatus.values if s != new_status and s not in sources]
    movable = [order_at(s) for s in sources]
    refused = [order_at(s) for s in refused_sources]
    before = {o.pk: history(o) for o in refused}
    response = staff_client.post(
        CHANGELIST_URL,
        {"action": action, "_selected_action": [str(o.pk) for o in [*movable, *refused]]},
    )
    assert response.status_code == 302
    got = messages_of(response)
    label = OrderStatus(new_status).label.lower()
    assert ("success", ORDERS_MOVED.format(count=len(movable), status=label)) in got
    assert sorted(m for level, m in got if level == "error") == sorted(
        f"order {o.id}: status change {o.status} -> {new_status} is not allowed" for o in refused
    )
    assert len(got) == 1 + len(refused)
    for order in movable:
        old = order.status
        order.refresh_from_db()
        assert order.status == new_status
        assert history(order)[-1] == (old, new_status, f"by staff {STAFF_USERNAME}")
    for order in refused:
        old = order.status
        order.refresh_from_db()
        assert order.status == old
        assert history(order) == before[order.pk]


def test_the_changelist_offers_every_status_action(staff_client):
    order_at("pending")  # the list shows no actions while it is empty
    body = staff_client.get(CHANGELIST_URL).content.decode()
    for action, (_status, label) in STATUS_ACTIONS.items():
        assert f'<option value="{action}">{label} selected orders</option>' in body


# --- the order's page is read-only ---------------------------------------------------


def test_a_posted_status_customer_or_payment_method_is_ignored(staff_client):
    order = order_at("pending")
    someone_else = UserFactory()
    body = staff_client.get(change_url(order)).content.decode()
    for field in ("status", "user", "payment_method"):
        assert f'name="{field}"' not in body
        assert f'<div class="form-row field-{field}">' in body  # shown, read-only
    assert 'name="_save"' not in body
    data = {"status": "cancelled", "user": str(someone_else.pk), "payment_method": "momo", "_save": "Save"}
    for prefix in ("items", "status_history"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    response = staff_client.post(change_url(order), data)
    assert response.status_code == 302  # saved, with nothing to change
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.status, fresh.user, fresh.payment_method) == ("pending", order.user, order.payment_method)
    assert history(fresh) == []


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_strangers_are_sent_to_the_login_page_and_change_nothing(client, who):
    if who == "customer":
        client.force_login(UserFactory())
    order = order_at("pending")
    book = BookFactory()
    attempts = [
        (PLACE_URL, place_data(user=order.user.pk, lines=[(book.pk, 1)])),
        (status_url(order), {"new_status": "cancelled"}),
        (CHANGELIST_URL, {"action": "cancel", "_selected_action": [str(order.pk)]}),
    ]
    for url, data in attempts:
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
    assert list(Order.objects.values_list("pk", "status")) == [(order.pk, "pending")]
    assert history(order) == []
