"""Cash-on-delivery auto-confirmation end to end: order_place in this process, then only
`rqworker` and `run_scheduler` processes, with a short COD_AUTO_CONFIRM_DELAY."""

import pytest

from inventory.tests.factories import BookFactory
from orders.models import Order, OrderStatusHistory
from orders.services import COD_AUTO_CONFIRM_NOTE, OrderLine, order_place, order_update_status
from tests.factories import UserFactory
from tests.helpers import wait_until
from worker.queues import get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def running(processes, redis_conn):
    processes("rqworker", "critical", "high", "default", "low")
    processes("run_scheduler")


def place_cod(settings):
    settings.COD_AUTO_CONFIRM_DELAY = 3
    return order_place(user=UserFactory(), payment_method="cod", lines=[OrderLine(str(BookFactory().id), 2)])


def test_a_cod_order_confirms_itself_after_the_delay(settings, running):
    order = place_cod(settings)
    assert Order.objects.get(pk=order.pk).status == "pending"
    wait_until(lambda: Order.objects.get(pk=order.pk).status == "confirmed", timeout=20, what="auto-confirm")
    rows = list(
        OrderStatusHistory.objects.filter(order=order).values_list("old_status", "new_status", "note")
    )
    assert rows == [("", "pending", "Order placed"), ("pending", "confirmed", COD_AUTO_CONFIRM_NOTE)]


def test_when_staff_confirm_first_the_auto_confirm_adds_no_second_row(settings, running):
    order = place_cod(settings)
    order_update_status(order_id=str(order.id), new_status="confirmed", note="confirmed by staff")
    job_id = f"cod-confirm-{order.id}"
    wait_until(
        lambda: get_queue("default").fetch_job(job_id).get_status() == "finished",
        timeout=20,
        what="the COD job",
    )
    rows = list(OrderStatusHistory.objects.filter(order=order).values_list("new_status", "note"))
    assert rows == [("pending", "Order placed"), ("confirmed", "confirmed by staff")]
    assert get_queue("default").fetch_job(job_id).return_value()["changed"] is False
