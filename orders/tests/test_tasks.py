"""The order jobs' permanent errors, as declared with ``throws=``: the worker fails the
job at once on those, and retries anything else."""

import uuid

import pytest
from django.db import OperationalError

from orders.exceptions import ForbiddenStatusChange, InvalidOrderId, OrderNotFound, UnknownOrderStatus
from orders.services import order_update_status
from orders.tasks import update_order_status
from orders.tests.factories import OrderFactory
from worker.registry import registry

pytestmark = pytest.mark.django_db


def error_of(function, *args) -> BaseException:
    with pytest.raises(Exception) as error:
        function(*args)
    return error.value


def test_each_refusal_of_a_status_update_fails_the_job_at_once():
    order = OrderFactory()
    order_update_status(order_id=str(order.id), new_status="confirmed")
    update_status = registry.get("order:update_status")
    refusals = {
        InvalidOrderId: ("not-a-uuid", "confirmed"),
        OrderNotFound: (str(uuid.UUID(int=7)), "confirmed"),
        UnknownOrderStatus: (str(order.id), "lost"),
        ForbiddenStatusChange: (str(order.id), "pending"),
    }
    for kind, args in refusals.items():
        error = error_of(update_order_status, *args)
        assert type(error) is kind
        assert update_status.is_permanent(error), kind


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), OperationalError("server closed the connection"), ValueError("x")]
)
def test_anything_else_a_status_update_raises_is_retried(error):
    assert not registry.get("order:update_status").is_permanent(error)


def test_the_pending_order_check_has_no_permanent_error():
    check = registry.get("order:check_pending")
    assert check.throws == ()
    assert not check.is_permanent(ForbiddenStatusChange("not its business"))
