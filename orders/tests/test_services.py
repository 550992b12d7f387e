import datetime as dt
import logging
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.tests.factories import BookFactory
from orders.exceptions import ForbiddenStatusChange, InvalidOrderId, OrderNotFound, UnknownOrderStatus
from orders.models import Order, OrderStatusHistory
from orders.selectors import pending_orders_report
from orders.services import COD_AUTO_CONFIRM_NOTE, OrderLine, order_place, order_update_status
from orders.tasks import check_pending_orders, update_order_status
from orders.tests.factories import OrderFactory, OrderItemFactory
from tests.factories import UserFactory
from worker.queues import get_queue

pytestmark = pytest.mark.django_db


def history(order) -> list[tuple[str, str]]:
    return list(OrderStatusHistory.objects.filter(order=order).values_list("old_status", "new_status"))


# --- order_update_status -------------------------------------------------------------


def test_an_order_walks_the_whole_status_graph_with_one_history_row_per_step():
    order = OrderFactory()
    path = ["confirmed", "processing", "shipping", "delivered", "completed"]
    for status in path:
        change = order_update_status(order_id=str(order.id), new_status=status, note=f"to {status}")
        assert change.changed
    order.refresh_from_db()
    assert order.status == "completed"
    assert history(order) == list(zip(["pending", *path[:-1]], path, strict=True))
    assert OrderStatusHistory.objects.get(order=order, new_status="shipping").note == "to shipping"


@pytest.mark.parametrize("start", ["pending", "confirmed"])
def test_pending_and_confirmed_orders_may_be_cancelled(start):
    order = OrderFactory()
    if start == "confirmed":
        order_update_status(order_id=str(order.id), new_status="confirmed")
    order_update_status(order_id=str(order.id), new_status="cancelled")
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_setting_the_current_status_again_changes_nothing():
    order = OrderFactory()
    order_update_status(order_id=str(order.id), new_status="confirmed")
    updated_at = Order.objects.get(pk=order.pk).updated_at
    result = update_order_status(str(order.id), "confirmed", "again")
    assert result == {
        "order_id": str(order.id),
        "old_status": "confirmed",
        "new_status": "confirmed",
        "changed": False,
    }
    assert history(order) == [("pending", "confirmed")]
    assert Order.objects.get(pk=order.pk).updated_at == updated_at


@pytest.mark.parametrize(
    ("start_path", "new_status"),
    [
        ([], "shipping"),
        (["confirmed", "processing"], "cancelled"),
        (["confirmed", "processing", "shipping", "delivered", "completed"], "pending"),
        (["cancelled"], "confirmed"),
    ],
)
def test_a_forbidden_change_is_permanent_names_order_and_change_and_changes_nothing(start_path, new_status):
    order = OrderFactory()
    for status in start_path:
        order_update_status(order_id=str(order.id), new_status=status)
    before = history(order)
    current = start_path[-1] if start_path else "pending"
    with pytest.raises(ForbiddenStatusChange) as error:
        update_order_status(str(order.id), new_status)
    assert str(order.id) in str(error.value)
    assert f"{current} -> {new_status} is not allowed" in str(error.value)
    assert Order.objects.get(pk=order.pk).status == current
    assert history(order) == before


@pytest.mark.parametrize(
    ("order_id", "status", "error", "message"),
    [
        ("not-a-uuid", "confirmed", InvalidOrderId, "order 'not-a-uuid': not a valid order id"),
        ("", "confirmed", InvalidOrderId, "not a valid order id"),
        (str(uuid.UUID(int=7)), "confirmed", OrderNotFound, f"order {uuid.UUID(int=7)}: no such order"),
    ],
)
def test_bad_ids_are_permanent_errors(order_id, status, error, message):
    OrderFactory()
    with pytest.raises(error, match=message):
        update_order_status(order_id, status)
    assert OrderStatusHistory.objects.count() == 0


def test_an_unknown_status_is_a_permanent_error():
    order = OrderFactory()
    with pytest.raises(UnknownOrderStatus, match="'lost' is not an order status"):
        update_order_status(str(order.id), "lost")
    assert Order.objects.get(pk=order.pk).status == "pending"


# --- order_place ---------------------------------------------------------------------


def test_placing_an_order_prices_its_items_and_adds_up_the_money(
    redis_conn, django_capture_on_commit_callbacks
):
    a, b = BookFactory(price=Decimal("120000.00")), BookFactory(price=Decimal("35500.50"))
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(
            user=UserFactory(),
            payment_method="vnpay",
            lines=[OrderLine(str(a.id), 2), OrderLine(str(b.id), 3)],
            discount_amount=Decimal("10000.00"),
            shipping_fee=Decimal("15000.00"),
        )
    order.refresh_from_db()
    assert order.subtotal == Decimal("346501.50")
    assert order.total == Decimal("351501.50")
    assert sorted(order.items.values_list("quantity", "unit_price")) == [(2, a.price), (3, b.price)]
    assert history(order) == [("", "pending")]
    assert get_queue("default").scheduled_job_registry.count == 0  # not cash on delivery


def test_a_cod_order_confirms_itself_after_the_delay_once_committed(
    redis_conn, settings, django_capture_on_commit_callbacks
):
    settings.COD_AUTO_CONFIRM_DELAY = 3600
    book = BookFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order = order_place(user=UserFactory(), payment_method="cod", lines=[OrderLine(str(book.id), 1)])
    registry = get_queue("default").scheduled_job_registry
    assert registry.count == 0  # nothing before the commit
    for callback in callbacks:
        callback()
    job_id = f"cod-confirm-{order.id}"
    assert registry.get_job_ids() == [job_id]
    due = registry.get_scheduled_time(job_id)
    assert abs((due - timezone.now()).total_seconds() - 3600) < 5
    job = get_queue("default").fetch_job(job_id)
    assert job.args == [str(order.id), "confirmed", COD_AUTO_CONFIRM_NOTE]


def test_a_rolled_back_order_enqueues_nothing(redis_conn, django_capture_on_commit_callbacks):
    book = BookFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        from django.db import transaction

        with transaction.atomic():
            order_place(user=UserFactory(), payment_method="cod", lines=[OrderLine(str(book.id), 1)])
            raise RuntimeError("payment gateway said no")
    assert callbacks == []
    assert Order.objects.count() == 0
    assert get_queue("default").scheduled_job_registry.count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"payment_method": "cash"}, "unknown payment method 'cash'"),
        ({"lines": []}, "at least one item"),
        ({"lines": "zero"}, "quantities must be positive"),
        ({"lines": "unknown"}, "unknown books"),
        ({"discount_amount": Decimal("999999999")}, "larger than the subtotal"),
        ({"shipping_fee": Decimal("-1")}, "cannot be negative"),
    ],
)
def test_bad_orders_are_refused_and_nothing_is_written(kwargs, message):
    book = BookFactory()
    lines = {"zero": [OrderLine(str(book.id), 0)], "unknown": [OrderLine(str(uuid.uuid4()), 1)]}
    arguments = {
        "user": UserFactory(),
        "payment_method": "cod",
        "lines": [OrderLine(str(book.id), 1)],
        **kwargs,
    }
    if isinstance(arguments["lines"], str):
        arguments["lines"] = lines[arguments["lines"]]
    with pytest.raises(ValueError, match=message):
        order_place(**arguments)
    assert Order.objects.count() == 0


# --- check_pending_orders ------------------------------------------------------------


def test_pending_orders_are_logged_with_their_customer_and_stale_ones_warned(caplog, settings):
    settings.PENDING_ORDER_STALE_AFTER = 24 * 3600
    fresh = OrderFactory(user=UserFactory(username="lan", email="lan@example.com"))
    stale = OrderFactory(created_at=timezone.now() - dt.timedelta(hours=30))
    OrderItemFactory(order=fresh)
    done = OrderFactory()
    order_update_status(order_id=str(done.id), new_status="confirmed")
    with caplog.at_level(logging.DEBUG, logger="orders.pending"):
        assert check_pending_orders() == {"pending": 2}
    lines = {r.getMessage(): r for r in caplog.records if r.name == "orders.pending"}
    fresh_line = next(m for m in lines if str(fresh.id) in m and "customer" in m)
    assert "lan <lan@example.com>" in fresh_line and lines[fresh_line].levelno == logging.INFO
    stale_line = next(m for m in lines if str(stale.id) in m and "customer" in m)
    assert stale_line.startswith("Stale") and lines[stale_line].levelno == logging.WARNING
    assert any("item of" in m and str(fresh.id) in m for m in lines)  # items at DEBUG
    assert not any(str(done.id) in m for m in lines)


def test_no_pending_orders_counts_zero():
    assert pending_orders_report() == 0
