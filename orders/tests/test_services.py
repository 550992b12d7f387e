import datetime as dt
import logging
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from inventory.tests.factories import BookFactory
from orders.exceptions import ForbiddenStatusChange, InvalidOrderId, OrderNotFound, UnknownOrderStatus
from orders.models import Order, OrderStatusHistory
from orders.services import (
    COD_AUTO_CONFIRM_NOTE,
    OrderLine,
    order_place,
    order_update_status,
    pending_orders_report,
)
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


def pending_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "orders.pending"]


def stale_reports(caplog) -> list[str]:
    """The order ids of the stale-order lines logged so far."""
    return [r.order_id for r in pending_lines(caplog) if r.levelno == logging.WARNING]


def test_a_run_logs_one_summary_line_and_each_newly_stale_order(caplog, settings):
    settings.PENDING_ORDER_STALE_AFTER = 24 * 3600
    now = timezone.now()
    OrderFactory(created_at=now - dt.timedelta(hours=1))
    OrderFactory(created_at=now - dt.timedelta(hours=2))
    stale = OrderFactory(
        created_at=now - dt.timedelta(hours=30), user=UserFactory(username="lan", email="lan@example.com")
    )
    done = OrderFactory(created_at=now - dt.timedelta(hours=40))
    order_update_status(order_id=str(done.id), new_status="confirmed")
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        result = check_pending_orders()
    assert result == {
        "pending": 3,
        "stale": 1,
        "newly_stale": 1,
        "oldest_age_seconds": result["oldest_age_seconds"],
    }
    assert 30 * 3600 <= result["oldest_age_seconds"] < 30 * 3600 + 60
    lines = pending_lines(caplog)
    assert len(lines) == 2  # one stale order, one summary: nothing per pending order at INFO
    warning, summary = lines
    assert warning.levelno == logging.WARNING and warning.order_id == str(stale.id)
    assert "lan <lan@example.com>" in warning.getMessage() and "1\xa0day, 6\xa0hours" in warning.getMessage()
    assert summary.levelno == logging.INFO
    assert (
        summary.getMessage()
        == "3 pending orders, oldest pending for 1\xa0day, 6\xa0hours; 1 stale, 1 newly stale"
    )
    assert (summary.pending, summary.stale, summary.newly_stale) == (3, 1, 1)
    assert summary.task == "order:check_pending" and summary.job_id is None  # called outside a worker
    assert not any(str(done.id) in r.getMessage() for r in lines)


def test_a_stale_order_is_reported_once_across_runs(caplog, settings):
    settings.PENDING_ORDER_STALE_AFTER = 24 * 3600
    stale = OrderFactory(created_at=timezone.now() - dt.timedelta(hours=30))
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        first = check_pending_orders()
        second = check_pending_orders()
        third = check_pending_orders()
    assert stale_reports(caplog) == [str(stale.id)]
    assert (first["stale"], first["newly_stale"]) == (1, 1)
    assert (second["stale"], second["newly_stale"]) == (third["stale"], third["newly_stale"]) == (1, 0)
    stale.refresh_from_db()
    assert stale.stale_reported_at is not None


def test_an_order_is_reported_on_the_run_where_it_becomes_stale(caplog, settings):
    settings.PENDING_ORDER_STALE_AFTER = 24 * 3600
    now = timezone.now()
    old = OrderFactory(created_at=now - dt.timedelta(hours=30))
    turning = OrderFactory(created_at=now - dt.timedelta(hours=23, minutes=59, seconds=58))
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        assert pending_orders_report(at=now).newly_stale == 1
        assert stale_reports(caplog) == [str(old.id)]
        assert pending_orders_report(at=now + dt.timedelta(seconds=1)).newly_stale == 0
        later = pending_orders_report(at=now + dt.timedelta(seconds=5))  # the next 5 s tick
        assert (later.stale, later.newly_stale) == (2, 1)
        assert stale_reports(caplog) == [str(old.id), str(turning.id)]
        assert pending_orders_report(at=now + dt.timedelta(seconds=10)).newly_stale == 0
    assert stale_reports(caplog) == [str(old.id), str(turning.id)]


def test_an_order_confirmed_before_it_became_stale_is_never_reported(caplog, settings):
    settings.PENDING_ORDER_STALE_AFTER = 3600
    order = OrderFactory(created_at=timezone.now() - dt.timedelta(minutes=50))
    order_update_status(order_id=str(order.id), new_status="confirmed")
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        report = pending_orders_report(at=timezone.now() + dt.timedelta(hours=2))
    assert (report.pending, report.stale, report.newly_stale) == (0, 0, 0)
    assert stale_reports(caplog) == []


def test_a_backlog_of_stale_orders_is_worked_off_oldest_first_in_bounded_runs(caplog, settings, monkeypatch):
    monkeypatch.setattr("orders.services.STALE_REPORT_BATCH", 2)
    settings.PENDING_ORDER_STALE_AFTER = 3600
    now = timezone.now()
    orders = [OrderFactory(created_at=now - dt.timedelta(hours=10 - n)) for n in range(5)]  # oldest first
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        runs = [pending_orders_report(at=now).newly_stale for _ in range(4)]
    assert runs == [2, 2, 1, 0]
    assert stale_reports(caplog) == [str(o.id) for o in orders]


def test_pending_orders_and_their_items_are_detailed_at_debug(caplog):
    order = OrderFactory()
    OrderItemFactory(order=order)
    with caplog.at_level(logging.DEBUG, logger="orders.pending"):
        check_pending_orders()
    messages = [r.getMessage() for r in pending_lines(caplog) if r.levelno == logging.DEBUG]
    assert any(m.startswith(f"Pending order {order.id}") for m in messages)
    assert any("item of" in m and str(order.id) in m for m in messages)


def test_the_summary_of_one_pending_order_says_order(caplog):
    OrderFactory(created_at=timezone.now() - dt.timedelta(minutes=5))
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        pending_orders_report()
    assert (
        pending_lines(caplog)[-1].getMessage().startswith("1 pending order, oldest pending for 5\xa0minutes;")
    )


def test_no_pending_orders_counts_zero(caplog):
    with caplog.at_level(logging.INFO, logger="orders.pending"):
        report = pending_orders_report()
    assert report.as_dict() == {"pending": 0, "stale": 0, "newly_stale": 0, "oldest_age_seconds": None}
    assert [r.getMessage() for r in pending_lines(caplog)] == [
        "0 pending orders, oldest pending for -; 0 stale, 0 newly stale"
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_report_each_stale_order_once(caplog, settings, monkeypatch):
    assert connection.vendor == "postgresql"
    # Small claims, so that the runs' claims interleave over the 300 stale orders.
    monkeypatch.setattr("orders.services.STALE_REPORT_BATCH", 7)
    settings.PENDING_ORDER_STALE_AFTER = 3600
    now = timezone.now()
    stale = {str(OrderFactory(created_at=now - dt.timedelta(hours=2, minutes=n)).id) for n in range(300)}
    OrderFactory(created_at=now)  # pending, not stale
    runs = 4
    barrier = threading.Barrier(runs)
    errors, counts = [], []

    def run():
        try:
            barrier.wait()
            while claimed := pending_orders_report().newly_stale:
                counts.append(claimed)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    with caplog.at_level(logging.INFO, logger="orders.pending"):
        threads = [threading.Thread(target=run) for _ in range(runs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(counts) == len(stale) == 300
        assert pending_orders_report().newly_stale == 0
    reported = stale_reports(caplog)
    assert len(reported) == len(set(reported)) == 300 and set(reported) == stale
    assert Order.objects.filter(stale_reported_at__isnull=False).count() == 300
