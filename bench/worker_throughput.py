"""Enqueue and drain throughput of the worker (issue 3's figures).

    bin/bench worker_throughput [--runs 3]

1. enqueue 10,000 bench:noop jobs through enqueue_many (one pipelined round trip);
2. drain 10,000 bench:noop jobs with 2 `manage.py rqworker` processes, timed from the
   end of the enqueue until the finished registry holds all of them;
3. drain 2,000 order:update_status jobs on PostgreSQL (pending -> confirmed, with the
   history row), 2 worker processes, timed the same way.
"""

from __future__ import annotations

import argparse
import time

from django.db import connection

from bench.common import median, report, start_workers, stop_workers, wait_for_workers
from worker.queues import TaskCall, enqueue_many, get_connection, get_queue

COMMAND = "bin/bench worker_throughput"


def enqueue_rate(n: int) -> float:
    get_connection().flushdb()
    calls = [TaskCall("bench:noop")] * n
    started = time.perf_counter()
    enqueue_many(calls)
    return n / (time.perf_counter() - started)


def drain_rate(calls: list[TaskCall]) -> float:
    queue = get_queue("default")
    finished = queue.finished_job_registry
    enqueue_many(calls)  # one MULTI/EXEC: every job appears at once
    started = time.perf_counter()
    while finished.count < len(calls):
        if queue.failed_job_registry.count:
            raise SystemExit(f"{queue.failed_job_registry.count} jobs failed")
        time.sleep(0.02)
    return len(calls) / (time.perf_counter() - started)


def prepare_orders(n: int) -> list[str]:
    """n pending orders, reset before each run (history of earlier runs removed)."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from orders.models import Order, OrderStatusHistory

    user, _ = get_user_model().objects.get_or_create(username="bench-customer")
    OrderStatusHistory.objects.filter(order__user=user).delete()
    existing = list(Order.objects.filter(user=user).values_list("id", flat=True)[:n])
    missing = n - len(existing)
    if missing > 0:
        new = Order.objects.bulk_create(
            [
                Order(user=user, payment_method="cod", subtotal=Decimal("100"), total=Decimal("100"))
                for _ in range(missing)
            ]
        )
        existing += [order.id for order in new]
    Order.objects.filter(id__in=existing).update(status="pending")
    return [str(order_id) for order_id in existing]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"database: {connection.vendor}; each figure is the median of {args.runs} runs")

    enqueue_runs = [enqueue_rate(10_000) for _ in range(args.runs)]
    report("enqueue 10,000 jobs (enqueue_many)", "jobs/s", enqueue_runs, COMMAND)

    get_connection().flushdb()
    workers = start_workers(2, "default")
    try:
        wait_for_workers(2)
        noop_runs = []
        for _ in range(args.runs):
            noop_runs.append(drain_rate([TaskCall("bench:noop")] * 10_000))
            get_connection().delete("rq:finished:default")
        report("drain 10,000 no-op jobs, 2 workers", "jobs/s", noop_runs, COMMAND)

        status_runs = []
        for _ in range(args.runs):
            get_connection().delete("rq:finished:default")
            order_ids = prepare_orders(2_000)
            status_runs.append(
                drain_rate(
                    [
                        TaskCall("order:update_status", (order_id, "confirmed", "bench"))
                        for order_id in order_ids
                    ]
                )
            )
        report(
            f"drain 2,000 order:update_status on {connection.vendor}, 2 workers",
            "jobs/s",
            status_runs,
            COMMAND,
        )
    finally:
        stop_workers(workers)
    print(
        f"summary: enqueue {median(enqueue_runs):,.0f}/s, no-op drain {median(noop_runs):,.0f}/s, "
        f"update_status drain {median(status_runs):,.0f}/s"
    )


if __name__ == "__main__":
    main()
