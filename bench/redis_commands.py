"""Redis commands per job on the worker's success path (issue 14), from INFO commandstats.

    bin/bench redis_commands [--jobs 2000]

`--jobs` bench:noop jobs are enqueued in one enqueue_many, then 2 `manage.py rqworker
default` processes, started and idle beforehand, drain them. Counted: every command
Redis served from just before the enqueue until the finished registry holds all jobs,
divided by the number of jobs, in all and per command (the idle workers' own polling
during the drain included, the benchmark's few reads of the registry too).
"""

from __future__ import annotations

import argparse
import time

from bench.common import start_workers, stop_workers, wait_for_workers
from worker.queues import TaskCall, enqueue_many, get_connection, get_queue

COMMAND = "bin/bench redis_commands"


def command_calls(connection) -> dict[str, int]:
    stats = connection.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    connection = get_connection()
    connection.flushdb()
    workers = start_workers(2, "default")
    try:
        wait_for_workers(2)
        time.sleep(1)
        queue = get_queue("default")
        before = command_calls(connection)
        started = time.perf_counter()
        enqueue_many([TaskCall("bench:noop")] * args.jobs)
        enqueued = command_calls(connection)
        while queue.finished_job_registry.count < args.jobs:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        after = command_calls(connection)
    finally:
        stop_workers(workers)

    def per_job(start: dict[str, int], end: dict[str, int]) -> dict[str, float]:
        return {name: (end.get(name, 0) - start.get(name, 0)) / args.jobs for name in end}

    def top(counts: dict[str, float]) -> str:
        ranked = sorted(((n, v) for n, v in counts.items() if v >= 0.05), key=lambda item: -item[1])
        return ", ".join(f"{name} {value:.2f}" for name, value in ranked)

    everything, enqueue, worker = per_job(before, after), per_job(before, enqueued), per_job(enqueued, after)
    total = sum(everything.values())
    print(
        f"{args.jobs} bench:noop jobs, 2 workers, drained in {elapsed:.2f} s: "
        f"{total:.1f} Redis commands per job"
    )
    print(f"  enqueue ({sum(enqueue.values()):.2f} a job): {top(enqueue)}")
    print(
        f"  worker, from the end of the enqueue to the last job done, idle threads' looks and the"
        f" benchmark's registry reads included ({sum(worker.values()):.2f} a job): {top(worker)}"
    )
    print(f"  measured by: {COMMAND} --jobs {args.jobs}")
    print(f"summary: commands_per_job={total:.2f} worker_commands_per_job={sum(worker.values()):.2f}")


if __name__ == "__main__":
    main()
