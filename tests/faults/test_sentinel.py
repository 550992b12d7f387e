"""Redis Sentinel, for real: a master, a replica and three sentinels (Debian's
``redis-sentinel``), a real ``rqworker`` and ``run_scheduler`` configured only with
REDIS_SENTINELS / REDIS_MASTER_NAME, and a steady enqueue of order status jobs while
the master is killed."""

import re
import threading
import time
from collections import Counter

import pytest
from django.db import transaction

from orders.models import Order, OrderStatusHistory
from orders.tests.factories import OrderFactory
from tests.helpers import wait_until
from tests.redis_sentinel import MASTER_NAME, SentinelDeployment
from worker import outbox
from worker.connection import describe, get_connection
from worker.models import OutboxJob
from worker.queues import enqueue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")
FLOW_AGAIN_WITHIN = 15.0  # seconds from the master's death to the first new job done


@pytest.fixture
def sentinel_redis(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(outbox, "_replicas", outbox._Replicas())  # nothing known of replicas yet
    deployment = SentinelDeployment(tmp_path).start()
    # This process (the web, the enqueue helpers) follows the same settings as the
    # processes under test; REDIS_URL still names the test Redis, and must lose.
    settings.REDIS_SENTINELS = deployment.sentinels
    settings.REDIS_MASTER_NAME = MASTER_NAME
    settings.REDIS_WAIT_REPLICAS = 1
    yield deployment
    deployment.stop()


def _status_jobs_while(stop: threading.Event, orders: list[Order], acknowledged: dict, interval: float):
    """The shop at work: each order's confirmation enqueued in its own transaction, one
    every ``interval`` s. A committed transaction is an acknowledged enqueue."""
    from django.db import connection

    try:
        for order in orders:
            if stop.is_set():
                break
            try:
                with transaction.atomic():
                    enqueue("order:update_status", str(order.id), "confirmed", job_id=f"failover-{order.id}")
                acknowledged[order.id] = time.time()
            except Exception:
                pass
            time.sleep(interval)
    finally:
        connection.close()


def test_a_master_killed_under_steady_enqueue_loses_no_acknowledged_job(sentinel_redis, processes, client):
    deployment = sentinel_redis
    assert describe().startswith(f"master '{MASTER_NAME}' of sentinels 127.0.0.1:")
    assert get_connection().connection_pool.connection_kwargs.get("db") == 0
    orders = [OrderFactory(status="pending") for _ in range(300)]
    worker = processes("rqworker", *ALL_QUEUES, **deployment.env)
    scheduler = processes("run_scheduler", **deployment.env)
    assert client.get("/health").status_code == 200

    acknowledged: dict[int, float] = {}
    stop = threading.Event()
    producer = threading.Thread(target=_status_jobs_while, args=(stop, orders, acknowledged, 0.03))
    producer.start()
    try:
        wait_until(lambda: len(acknowledged) >= 60, timeout=30, what="60 enqueues before the failover")
        # Jobs flow through the master before it dies, confirmed on the replica.
        wait_until(
            lambda: OrderStatusHistory.objects.filter(new_status="confirmed").exists(),
            timeout=20,
            what="the first job done",
        )
        killed_at = deployment.kill("master")
        wait_until(
            lambda: deployment.master_port_now() == deployment.replica_port,
            timeout=20,
            what="Sentinel to promote the replica",
        )
        promoted_after = time.time() - killed_at
    finally:
        producer.join(timeout=60)
        stop.set()
    assert not producer.is_alive()

    # Jobs flow again: an order enqueued after the kill is confirmed within the limit.
    after_kill = [order_id for order_id, at in acknowledged.items() if at > killed_at]
    assert len(after_kill) > 50, "the enqueue should have gone on through the failover"
    first_done = wait_until(
        lambda: (
            OrderStatusHistory.objects.filter(order_id__in=after_kill, new_status="confirmed")
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        ),
        timeout=FLOW_AGAIN_WITHIN + 15,
        what="a job enqueued after the failover to run",
    )
    flowing_after = first_done.timestamp() - killed_at
    assert flowing_after <= FLOW_AGAIN_WITHIN, f"jobs flowed again only {flowing_after:.1f} s after the kill"

    # No acknowledged job lost, none run twice.
    wait_until(
        lambda: Order.objects.filter(pk__in=acknowledged, status="confirmed").count() == len(acknowledged),
        timeout=60,
        what=f"all {len(acknowledged)} acknowledged orders to be confirmed",
    )
    history = Counter(
        OrderStatusHistory.objects.filter(order_id__in=acknowledged, new_status="confirmed").values_list(
            "order_id", flat=True
        )
    )
    assert set(history) == set(acknowledged) and set(history.values()) == {1}
    wait_until(lambda: not OutboxJob.objects.exists(), timeout=20, what="an empty outbox")
    runs = Counter(re.findall(r"job order:update_status failover-([\w-]+): success", worker.output()))
    assert set(runs) == {str(order_id) for order_id in acknowledged}
    assert max(runs.values()) == 1, [job for job, n in runs.items() if n > 1]
    assert client.get("/health").status_code == 200  # the web follows the new master too
    print(
        f"\nfailover: promoted {promoted_after:.2f} s after the kill, jobs flowing "
        f"{flowing_after:.2f} s after it; {len(acknowledged)} acknowledged, "
        f"{len(after_kill)} after the kill, all run once"
    )
    assert "Traceback" not in scheduler.output(), scheduler.output()[-3000:]


def test_an_outbox_row_leaves_only_once_a_replica_has_its_job(sentinel_redis, settings):
    deployment = sentinel_redis
    settings.REDIS_WAIT_TIMEOUT_MS = 300
    master = deployment.server(deployment.master_port)
    deployment.pause("replica")  # connected, but acknowledges nothing
    try:
        with transaction.atomic():
            job_id = enqueue("cart:cleanup")
        # On the master, not yet on a replica: a failover now could lose it, so the row stays.
        assert master.lrange("rq:queue:low", 0, -1) == [job_id]
        assert OutboxJob.objects.filter(job_id=job_id).exists()
        with pytest.raises(outbox.NotReplicated, match="confirmed by 0 of 1 replicas within 300 ms"):
            outbox.relay()
        assert OutboxJob.objects.filter(job_id=job_id).exists()
    finally:
        deployment.resume("replica")
    assert outbox.relay() == 1
    assert not OutboxJob.objects.exists()
    # Sent twice, created once; and the replica has it.
    assert master.lrange("rq:queue:low", 0, -1) == [job_id]
    replica = deployment.server(deployment.replica_port)
    wait_until(lambda: replica.lrange("rq:queue:low", 0, -1) == [job_id], timeout=5, what="the replica")
