"""Nothing lost between PostgreSQL and Redis: a change committed while Redis is away
still gets its job, exactly once, through run_scheduler's relay. Real rqworker and
run_scheduler processes on the real servers."""

import time

import pytest
from django.db import transaction

from inventory.models import LowStockAlert
from inventory.services import stock_check_low
from inventory.tests.factories import BookFactory, WarehouseInventoryFactory
from orders.models import Order, OrderStatusHistory
from orders.services import OrderLine, order_place
from tests import jobs
from tests.factories import UserFactory
from tests.helpers import free_port, wait_until
from worker.keys import METRICS_PROCESSED
from worker.models import OutboxJob
from worker.queues import TaskCall, enqueue_many

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")


@pytest.fixture
def redis_away(settings):
    """This process's Redis unreachable (a port where nothing listens) until restored;
    the worker and scheduler processes get the real one."""
    url = settings.REDIS_URL

    class Away:
        def __enter__(self):
            settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

        def __exit__(self, *exc):
            settings.REDIS_URL = url

    return Away()


def test_a_cod_order_placed_while_redis_is_away_confirms_once_when_it_is_back(
    settings, redis_conn, processes, redis_away
):
    settings.COD_AUTO_CONFIRM_DELAY = 2
    with redis_away:
        order = order_place(
            user=UserFactory(), payment_method="cod", lines=[OrderLine(str(BookFactory().id), 3)]
        )
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert OutboxJob.objects.filter(job_id=f"cod-confirm-{order.id}").exists()
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: Order.objects.get(pk=order.pk).status == "confirmed", timeout=30, what="auto-confirm")
    assert OrderStatusHistory.objects.filter(order=order, new_status="confirmed").count() == 1
    wait_until(lambda: not OutboxJob.objects.exists(), timeout=10, what="an empty outbox")


def test_low_stock_alerts_opened_while_redis_is_away_are_each_e_mailed_once(
    redis_conn, processes, redis_away
):
    rows = [WarehouseInventoryFactory(quantity=2, alert_threshold=10) for _ in range(20)]
    with redis_away:
        assert stock_check_low().opened == 20
    assert OutboxJob.objects.filter(task="inventory:low_stock_alert").count() == 20
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(
        lambda: LowStockAlert.objects.filter(notified_at__isnull=False).count() == 20,
        timeout=30,
        what="every alert e-mailed",
    )
    # One job each, none lost, none run twice (the counts reach Redis within a second).
    wait_until(
        lambda: int(redis_conn.hget(METRICS_PROCESSED, "inventory:low_stock_alert|success") or 0) >= 20,
        timeout=5,
        what="the job counts",
    )
    time.sleep(1.5)  # a second flush would show a double
    assert int(redis_conn.hget(METRICS_PROCESSED, "inventory:low_stock_alert|success")) == 20
    assert {alert.stock_id for alert in LowStockAlert.objects.all()} == {row.id for row in rows}


def _outbox_of(count: int, redis_away) -> None:
    with redis_away, transaction.atomic():
        enqueue_many([TaskCall("test:record_default")] * count)
    assert OutboxJob.objects.count() == count


def _run_all_and_count(redis_conn, processes) -> list[str]:
    worker = processes("rqworker", "default", "--burst")
    assert worker.wait(timeout=120) == 0, worker.output()[-2000:]
    return [entry.decode().split(":")[1] for entry in redis_conn.lrange(jobs.RECORD_KEY, 0, -1)]


def test_a_relay_killed_mid_batch_leaves_the_rest_to_another_and_every_job_runs_once(
    redis_conn, processes, redis_away
):
    _outbox_of(10_000, redis_away)
    first = processes("run_scheduler", OUTBOX_RELAY_BATCH="50")
    wait_until(
        lambda: OutboxJob.objects.count() <= 8_000, timeout=60, what="the relay under way", interval=0.02
    )
    first.kill_group()
    assert OutboxJob.objects.count() > 0, "the relay finished before it could be killed"
    processes("run_scheduler", OUTBOX_RELAY_BATCH="50")
    wait_until(lambda: not OutboxJob.objects.exists(), timeout=60, what="the second relay to finish")
    ran = _run_all_and_count(redis_conn, processes)
    assert len(ran) == 10_000 and len(set(ran)) == 10_000


def test_two_relays_at_once_double_nothing(redis_conn, processes, redis_away):
    _outbox_of(10_000, redis_away)
    processes("run_scheduler", OUTBOX_RELAY_BATCH="100")
    processes("run_scheduler", OUTBOX_RELAY_BATCH="100")
    wait_until(lambda: not OutboxJob.objects.exists(), timeout=60, what="the relays to finish")
    ran = _run_all_and_count(redis_conn, processes)
    assert len(ran) == 10_000 and len(set(ran)) == 10_000
