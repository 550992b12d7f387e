"""The transactional outbox's cost and speed (issue 11's figures).

    bin/bench outbox [--runs 3]
    bin/bench-compare REV 5 outbox      the same, interleaved with an earlier commit

1. ``order_place`` of a cash-on-delivery order with 3 items (its auto-confirm job goes
   through the outbox): p50 and p90 of 300 calls, each its own transaction;
2. 10,000 jobs enqueued in one transaction: from the start of COMMIT until every job is
   in Redis (the commit and the fast path), in jobs/s;
3. the relay catching up a backlog of 100,000 rows written while Redis was away, one
   relay pass, in jobs/s (skipped on a tree without the outbox).
"""

from __future__ import annotations

import argparse
import statistics
import time

from django.conf import settings
from django.db import transaction

from bench.common import PROJECT_DIR, median, report
from worker.queues import TaskCall, enqueue_many, get_connection, get_queue

COMMAND = "bin/bench outbox"


def order_place_ms(n: int) -> tuple[float, float]:
    from django.contrib.auth import get_user_model

    from inventory.models import Book
    from orders.services import OrderLine, order_place

    user, _ = get_user_model().objects.get_or_create(username="bench-outbox")
    books = list(Book.objects.all()[:3])
    if len(books) < 3:
        from inventory.tests.factories import BookFactory

        books = [BookFactory() for _ in range(3)]
    lines = [OrderLine(str(book.id), 1) for book in books]
    times = []
    for _ in range(n):
        started = time.perf_counter()
        order_place(user=user, payment_method="cod", lines=lines)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def commit_to_redis_rate(n: int) -> float:
    get_connection().flushdb()
    with transaction.atomic():
        enqueue_many([TaskCall("bench:noop")] * n)
        started = time.perf_counter()
    while get_queue("default").count < n:  # the fast path runs in the commit hook: 0 waits
        time.sleep(0.001)
    return n / (time.perf_counter() - started)


def relay_rate(n: int) -> float | None:
    if not (PROJECT_DIR / "worker" / "outbox.py").exists():
        return None  # a tree from before the outbox (bin/bench-compare)
    from worker import outbox
    from worker.models import OutboxJob

    get_connection().flushdb()
    url = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # away: the rows stay in the outbox
    try:
        for _ in range(n // 10_000):
            with transaction.atomic():
                enqueue_many([TaskCall("bench:noop")] * 10_000)
    finally:
        settings.REDIS_URL = url
    assert OutboxJob.objects.count() == n
    started = time.perf_counter()
    sent = outbox.relay()
    elapsed = time.perf_counter() - started
    assert sent == n and get_queue("default").count == n
    return n / elapsed


def main() -> None:
    import logging

    logging.getLogger("worker.outbox").setLevel(logging.ERROR)  # the backlog's warnings
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    p50s, p90s, commits, relays = [], [], [], []
    for _ in range(args.runs):
        p50, p90 = order_place_ms(300)
        p50s.append(p50)
        p90s.append(p90)
        commits.append(commit_to_redis_rate(10_000))
        rate = relay_rate(100_000)
        if rate is not None:
            relays.append(rate)
    print(f"order_place (COD, 3 items): p50 {median(p50s):.2f} ms, p90 {median(p90s):.2f} ms")
    report("10,000 jobs in one transaction, commit to all in Redis", "jobs/s", commits, COMMAND)
    if relays:
        report("relay catching up 100,000 rows", "jobs/s", relays, COMMAND)
    summary = f"summary: order_place p50 {median(p50s):.2f} ms, one-transaction {median(commits):,.0f}/s"
    if relays:
        summary += f", relay {median(relays):,.0f}/s"
    print(summary)


if __name__ == "__main__":
    main()
