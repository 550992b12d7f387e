"""Soak (issue 7): 100,000 mixed jobs through the default worker command, one worker
process with production recycling settings. Reports the working process's RSS after
the first 10,000 jobs and at the end, and Redis memory along the way (bounded, because
finished and failed jobs have TTLs).

    bin/bench soak [--jobs 100000]
"""

from __future__ import annotations

import argparse
import time

from django.conf import settings
from rq import Worker

from bench.common import start_workers, stop_workers, wait_for_workers
from bench.worker_rss import rss_mb
from worker.queues import TaskCall, enqueue_many, get_connection, get_queue

BATCH = 10_000
# A mix of real jobs that need no rows (they find nothing to do) and no-ops.
MIX = [TaskCall("bench:noop")] * 6 + [
    TaskCall("order:check_pending"),
    TaskCall("cart:cleanup"),
    TaskCall("inventory:check_low_stock"),
    TaskCall("order:update_status", ("not-a-uuid", "confirmed")),  # fails at once: the failed path
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    connection = get_connection()
    connection.flushdb()
    baseline = connection.info("memory")["used_memory"]
    # Result TTLs travel with each job from the enqueuer: a minute keeps Redis small.
    settings.RQ_RESULT_TTL = settings.RQ_FAILURE_TTL = 60
    workers = start_workers(1)
    queues = [get_queue(name) for name in ("critical", "high", "default", "low")]
    samples, redis_peak = {}, 0
    try:
        wait_for_workers(1)
        started = time.perf_counter()
        for done in range(BATCH, args.jobs + 1, BATCH):
            enqueue_many((MIX * (BATCH // len(MIX) + 1))[:BATCH])
            while any(q.count or q.started_job_registry.count for q in queues):
                redis_peak = max(redis_peak, connection.info("memory")["used_memory"])
                time.sleep(0.2)
            pid = Worker.all(connection=connection)[0].pid  # the current working process
            samples[done] = rss_mb(pid)
            print(
                f"  after {done:>7,} jobs: worker RSS {samples[done]:.1f} MB, "
                f"Redis {redis_peak / 2**20:.1f} MB peak"
            )
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(workers)
    first, last = samples[BATCH], samples[max(samples)]
    print(
        f"soak: {max(samples):,} mixed jobs in {elapsed:.0f} s; worker RSS {first:.1f} MB after {BATCH:,}, "
        f"{last:.1f} MB at the end ({(last - first) / first * 100:+.1f} %); Redis peak "
        f"{redis_peak / 2**20:.1f} MB over a {baseline / 2**20:.1f} MB baseline"
    )
    print("  measured by: bin/bench soak")


if __name__ == "__main__":
    main()
