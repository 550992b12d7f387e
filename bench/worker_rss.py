"""Worker memory over a long run (issues 3 and 14): RSS of the working process after
5,000 and after 100,000 bench:noop jobs, with its WORKER_CONCURRENCY threads (default 8),
recycling turned off so any growth shows.

    bin/bench worker_rss [--jobs 100000] [--threads 8]
"""

from __future__ import annotations

import argparse
import time

from rq import Worker

from bench.common import start_workers, stop_workers, wait_for_workers
from worker.queues import TaskCall, enqueue_many, get_connection, get_queue

BATCH = 5_000


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    connection = get_connection()
    connection.flushdb()
    workers = start_workers(
        1, "default", WORKER_MAX_JOBS="0", WORKER_MAX_RSS_MB="0", WORKER_CONCURRENCY=str(args.threads)
    )
    try:
        wait_for_workers(1)
        pid = Worker.all(connection=connection)[0].pid
        samples = {}
        started = time.perf_counter()
        for done in range(BATCH, args.jobs + 1, BATCH):
            enqueue_many([TaskCall("bench:noop")] * BATCH)
            while get_queue("default").count or get_queue("default").started_job_registry.count:
                time.sleep(0.05)
            samples[done] = rss_mb(pid)
            print(f"  after {done:>6,} jobs: RSS {samples[done]:.1f} MB")
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(workers)
    first, last = samples[BATCH], samples[max(samples)]
    growth = (last - first) / first * 100
    print(
        f"worker RSS: {first:.1f} MB after {BATCH:,} jobs, {last:.1f} MB after {max(samples):,} jobs "
        f"({growth:+.1f} %), {max(samples) / elapsed:,.0f} jobs/s on one worker process"
        f" of {args.threads} threads"
    )
    print(f"  measured by: bin/bench worker_rss --jobs {args.jobs} --threads {args.threads}")


if __name__ == "__main__":
    main()
