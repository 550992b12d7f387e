"""Pickup latency of an idle worker, and what an idle worker costs (issue 14).

    bin/bench pickup [--jobs 200] [--rate 20] [--runs 3]

Two `manage.py rqworker default` processes start and go idle. Then `--jobs` probe jobs
are enqueued one at a time (`enqueue`, outside a transaction) at `--rate` a second; each
records, when a worker starts it, the time since its enqueue (one clock: one machine).
Printed: p50 and p99 of that delay, and the CPU the two idle worker trees used over 5 s
(utime + stime from /proc, as a percentage of one core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.common import proc_stats, start_workers, stop_workers, wait_for_workers
from worker.queues import enqueue, get_connection

COMMAND = "bin/bench pickup"
KEY = "bench:pickup"
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(group_ids: set[int]) -> float:
    ticks = sum(int(f[11]) + int(f[12]) for _, f in proc_stats() if int(f[2]) in group_ids)
    return ticks / TICKS


def one_run(jobs: int, rate: float) -> tuple[float, float, float]:
    connection = get_connection()
    connection.flushdb()
    workers = start_workers(2, "default", EXTRA_TASK_MODULES="bench.tasks,bench.probe_tasks")
    try:
        wait_for_workers(2)
        time.sleep(2)  # idle now
        groups = {worker.pid for worker in workers}
        before = _cpu_seconds(groups)
        time.sleep(5)
        idle_cpu = (_cpu_seconds(groups) - before) / 5 * 100
        for _ in range(jobs):
            enqueue("bench:probe", time.time(), KEY)
            time.sleep(1 / rate)
        deadline = time.monotonic() + 60
        while connection.llen(KEY) < jobs:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {connection.llen(KEY)} of {jobs} probes ran")
            time.sleep(0.05)
        delays = sorted(float(value) * 1000 for value in connection.lrange(KEY, 0, -1))
    finally:
        stop_workers(workers)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    return p50, p99, idle_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import bench.probe_tasks  # noqa: F401  (the probe joins this process's registry too)

    runs = [one_run(args.jobs, args.rate) for _ in range(args.runs)]
    p50 = statistics.median(r[0] for r in runs)
    p99 = statistics.median(r[1] for r in runs)
    idle = statistics.median(r[2] for r in runs)
    print(
        f"pickup at {args.rate:g} jobs/s, {args.jobs} jobs, 2 idle workers: median over {args.runs} runs "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; idle CPU of both worker trees {idle:.2f} % of a core"
    )
    print("  runs: " + "; ".join(f"p50 {a:.1f} / p99 {b:.1f} ms, idle {c:.2f} %" for a, b, c in runs))
    print(f"  measured by: {COMMAND} --jobs {args.jobs} --rate {args.rate:g} --runs {args.runs}")
    print(f"summary: pickup_p50_ms={p50:.2f} pickup_p99_ms={p99:.2f} idle_cpu_pct={idle:.2f}")


if __name__ == "__main__":
    main()
