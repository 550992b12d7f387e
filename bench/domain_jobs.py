"""The bookstore's heavy jobs on a store the size of `seed_demo --scale 100` (issue 5),
each run by a real `manage.py rqworker` process on PostgreSQL:

* stats:daily for one day (about 33,000 orders and 100,000 items that day);
* the nightly stats:daily run: yesterday and the STATS_REFRESH_DAYS (14) days before it,
  about 500,000 orders and 1,500,000 items, as the schedule enqueues it;
* order:check_pending on 100,000 pending orders, all stale and already reported (the
  steady state: its every-5-s summary and a claim that finds nothing new);
* cart:cleanup removing 500,000 expired carts (and their items), and the longest single
  SQL statement during it (PostgreSQL's log_min_duration_statement);
* inventory:check_low_stock opening 10,000 alerts and enqueuing their 10,000 e-mail jobs;
* the worker process's peak RSS (VmHWM) over all of it.

    bin/bench domain_jobs [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import time

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from bench.bigdata import expired_carts, generate
from bench.common import median, start_workers, stop_workers, wait_for_workers
from inventory.models import LowStockAlert
from stats.models import DailyStatistics
from worker.queues import enqueue, get_connection, get_queue

SLOW = re.compile(r"duration: ([\d.]+) ms\s+statement: (.{0,80})")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_job(name: str, pid: int, **kwargs) -> tuple[float, float, dict]:
    job_id = enqueue(name, **kwargs)
    job = Job.fetch(job_id, connection=get_connection(), serializer=JSONSerializer)
    peak = 0.0
    while job.get_status() not in ("finished", "failed"):
        peak = max(peak, peak_rss_mb(pid))
        time.sleep(0.05)
    if job.get_status() == "failed":
        raise SystemExit(f"{name} failed: {job.latest_result().exc_string}")
    peak = max(peak, peak_rss_mb(pid))
    job.refresh()
    return (job.ended_at - job.started_at).total_seconds(), peak, job.return_value()


def slow_statements(since: int) -> list[tuple[float, str]]:
    path = os.environ.get("BENCH_PG_LOG", "")
    if not path or not os.path.exists(path):
        return []
    with open(path, errors="replace") as log:
        log.seek(since)
        return [(float(ms), sql) for ms, sql in SLOW.findall(log.read())]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    generate()
    with connection.cursor() as cursor:
        cursor.execute("ALTER SYSTEM SET log_min_duration_statement = 1000")
        cursor.execute("SELECT pg_reload_conf()")
    get_connection().flushdb()
    workers = start_workers(1, "default", "low", EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
    results: dict[str, list] = {"stats": [], "nightly": [], "pending": [], "carts": [], "low": []}
    peaks = []
    try:
        wait_for_workers(1)
        pid = Worker.all(connection=get_connection())[0].pid
        day = (timezone.localdate() - dt.timedelta(days=15)).isoformat()
        with connection.cursor() as cursor:
            cursor.execute("UPDATE orders_order SET stale_reported_at = now() WHERE status = 'pending'")
        for run in range(args.runs):
            seconds, peak, result = run_job("stats:daily", pid, date=day)
            results["stats"].append(seconds)
            peaks.append(peak)
            print(f"  run {run + 1}: stats:daily {day}: {seconds:.2f} s ({result['total_orders']:,} orders)")

            yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
            refresh_days = settings.STATS_REFRESH_DAYS
            seconds, peak, result = run_job("stats:daily", pid, date=yesterday, refresh_days=refresh_days)
            results["nightly"].append(seconds)
            peaks.append(peak)
            window = DailyStatistics.objects.filter(date__gte=result["refreshed_from"], date__lte=yesterday)
            orders = window.aggregate(n=Sum("total_orders"))["n"]
            print(
                f"  run {run + 1}: nightly stats:daily {yesterday} + {result['refreshed_days']} days: "
                f"{seconds:.2f} s ({orders:,} orders)"
            )

            seconds, peak, result = run_job("order:check_pending", pid)
            results["pending"].append(seconds)
            peaks.append(peak)
            print(
                f"  run {run + 1}: check_pending: {seconds * 1000:.0f} ms ({result['pending']:,} pending, "
                f"{result['stale']:,} stale, {result['newly_stale']} newly)"
            )

            LowStockAlert.objects.all().delete()
            seconds, peak, result = run_job("inventory:check_low_stock", pid)
            get_queue("default").empty()  # the 10,000 e-mail jobs are not this figure
            results["low"].append(seconds)
            peaks.append(peak)
            print(f"  run {run + 1}: check_low_stock: {seconds:.2f} s ({result['opened']:,} alerts opened)")

            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM carts_cart WHERE expires_at <= now()")
                if cursor.fetchone()[0] < 500_000:
                    expired_carts(cursor)
            log_at = os.path.getsize(os.environ["BENCH_PG_LOG"]) if os.environ.get("BENCH_PG_LOG") else 0
            seconds, peak, result = run_job("cart:cleanup", pid)
            slow = slow_statements(log_at)
            results["carts"].append((seconds, max((ms for ms, _ in slow), default=0.0)))
            peaks.append(peak)
            print(
                f"  run {run + 1}: cart:cleanup: {seconds:.1f} s ({result['deleted']:,} carts), "
                f"{len(slow)} statements over 1 s"
            )
    finally:
        stop_workers(workers)
    cart_seconds = [s for s, _ in results["carts"]]
    longest = max(ms for _, ms in results["carts"])
    print(f"generate_daily_stats, one day of 1M orders: median {median(results['stats']):.2f} s")
    print(
        f"nightly generate_daily_stats, yesterday + {settings.STATS_REFRESH_DAYS} refresh days: "
        f"median {median(results['nightly']):.2f} s"
    )
    print(
        f"cleanup_expired_carts, 500,000 carts: median {median(cart_seconds):.1f} s; "
        f"statements over 1 s: {'none' if not longest else f'longest {longest:.0f} ms'}"
    )
    print(f"check_pending_orders, 100,000 pending orders: median {median(results['pending']) * 1000:.0f} ms")
    print(f"check_low_stock, 10,000 alerts opened and enqueued: median {median(results['low']):.2f} s")
    print(f"worker peak RSS (VmHWM) across all runs: {max(peaks):.0f} MB")
    print("  measured by: bin/bench domain_jobs")
    print(
        f"summary: stats day {median(results['stats']):.2f} s, nightly {median(results['nightly']):.2f} s, "
        f"cleanup {median(cart_seconds):.1f} s, low stock {median(results['low']):.2f} s"
    )


if __name__ == "__main__":
    main()
