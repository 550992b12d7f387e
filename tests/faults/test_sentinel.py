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
from tests.helpers import run_manage, wait_until
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

    # Each job ends in exactly one success line. A job whose worker lost Redis while
    # finishing it (its effect committed, its success not recorded) is retried as
    # abandoned, finds the order confirmed, changes nothing, and then succeeds: wait.
    def successes() -> Counter:
        return Counter(re.findall(r"job order:update_status failover-([\w-]+): success", worker.output()))

    wait_until(
        lambda: set(successes()) == {str(order_id) for order_id in acknowledged},
        timeout=30,
        what="a success line for every acknowledged job",
    )
    runs = successes()
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


def test_every_process_and_path_follows_the_sentinels(sentinel_redis, processes, child_env, client, settings):
    """django-rq's own rqenqueue and dashboard connection, rqworker-pool, /health and
    /metrics all reach the master the sentinels name; REDIS_URL (the test Redis) loses."""
    deployment = sentinel_redis
    env = {**child_env, **deployment.env}
    master = deployment.server(deployment.master_port)
    enqueued = run_manage("rqenqueue", "--queue", "low", "carts.tasks.cleanup_expired_carts", env=env)
    assert enqueued.returncode == 0, enqueued.stderr
    assert master.llen("rq:queue:low") == 1
    dashboard = run_manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django_rq.connection_utils import get_connection_by_index as c; "
        "print(type(c(0).connection_pool).__name__, c(0).info('server')['tcp_port'])",
        env=env,
    )
    assert dashboard.stdout.split() == ["SentinelConnectionPool", str(deployment.master_port)], (
        dashboard.stderr
    )
    processes("rqworker-pool", *ALL_QUEUES, "--num-workers", "2", **deployment.env)
    wait_until(lambda: master.llen("rq:queue:low") == 0, timeout=30, what="rqworker-pool to take the job")
    wait_until(
        lambda: master.hget("bookstore:metrics:processed", "cart:cleanup|success") == "1",
        timeout=30,
        what="the job to succeed",
    )
    assert client.get("/health").status_code == 200
    settings.METRICS_TOKEN = "t"
    metrics = client.get("/metrics", headers={"authorization": "Bearer t"}).content.decode()
    assert "bookstore_redis_up 1.0" in metrics
    assert 'bookstore_tasks_processed_total{status="success",task="cart:cleanup"} 1.0' in metrics
    deployment.kill("master")  # and no failover yet: a 503, not a hang or a 200
    assert client.get("/health").status_code == 503


def test_passwords_and_tls_reach_sentinels_and_redis_and_no_log_shows_them(
    tmp_path, processes, client, settings
):
    deployment = SentinelDeployment(
        tmp_path, password="pw-master-4Jd8", sentinel_password="pw-sentinel-9Qx2", tls=True
    ).start()
    try:
        settings.REDIS_SENTINELS = deployment.sentinels
        settings.REDIS_MASTER_NAME = MASTER_NAME
        settings.REDIS_PASSWORD = deployment.password
        settings.REDIS_SENTINEL_PASSWORD = deployment.sentinel_password
        settings.REDIS_SSL, settings.REDIS_SSL_CA_CERTS = True, str(deployment.ca)
        worker = processes("rqworker", *ALL_QUEUES, **deployment.env)
        scheduler = processes("run_scheduler", **deployment.env)
        enqueue("test:stamp", "test:ran", delay=1)  # through the scheduler, then the worker
        master = deployment.server(deployment.master_port)
        wait_until(lambda: master.llen("test:ran") == 1, timeout=30, what="the delayed job")
        assert client.get("/health").status_code == 200
        for process in (worker, scheduler):
            output = process.output()
            assert deployment.password not in output and deployment.sentinel_password not in output
        # Each secret is needed: without the sentinels' password nothing is reached.
        settings.REDIS_SENTINEL_PASSWORD = ""
        assert client.get("/health").status_code == 503
    finally:
        deployment.stop()
