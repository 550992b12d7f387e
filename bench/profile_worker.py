"""Where a working process spends its time: py-spy samples both working processes while
they drain no-op or order:update_status jobs (a tool for finding the next saving, not a
figure).

    bin/bench profile_worker [--job noop|update_status] [--jobs 40000] [--out /tmp/worker.prof]

Needs py-spy (pip install py-spy) and permission to trace (root, or ptrace_scope 0).
Writes py-spy's collapsed stacks to --out and prints the 30 functions with the most
samples, self and inclusive.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import time

from bench.common import start_workers, stop_workers, wait_for_workers
from bench.worker_throughput import prepare_orders
from worker.queues import TaskCall, enqueue_many, get_connection, get_queue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--job", choices=["noop", "update_status", "io"], default="noop")
    parser.add_argument("--jobs", type=int, default=40_000)
    parser.add_argument("--out", default="/tmp/worker.prof")
    parser.add_argument("--gil", action="store_true", help="only samples of the thread holding the GIL")
    parser.add_argument("--idle", action="store_true", help="idle threads' samples too (wall-clock)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(__import__("pathlib").Path(sys.executable).with_name("py-spy"))
    get_connection().flushdb()
    if args.job in ("noop", "io"):
        calls = [TaskCall(f"bench:{args.job}")] * args.jobs
    else:
        calls = [
            TaskCall("order:update_status", (i, "confirmed", "bench")) for i in prepare_orders(args.jobs)
        ]
    workers = start_workers(2, "default")
    try:
        wait_for_workers(2)
        from rq import Worker

        children = sorted({worker.pid for worker in Worker.all(connection=get_connection())})
        enqueue_many(calls)
        flags = [*(["--gil"] if args.gil else []), *(["--idle"] if args.idle else [])]
        spies = [
            subprocess.Popen(
                [spy, "record", "--nonblocking", "--rate", "250", "--format", "raw",
                 "-o", f"{args.out}.{pid}", "-p", str(pid), *flags],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for pid in children
        ]  # fmt: skip
        started = time.perf_counter()
        finished = get_queue("default").finished_job_registry
        while finished.count < len(calls):
            time.sleep(0.05)
        rate = len(calls) / (time.perf_counter() - started)
        for spy_process in spies:
            spy_process.send_signal(2)
        for spy_process in spies:
            spy_process.wait(30)
    finally:
        stop_workers(workers)
    print(f"{args.job}: {rate:,.0f} jobs/s under the profiler")
    self_samples, total_samples, all_samples = collections.Counter(), collections.Counter(), 0
    with open(args.out, "w") as out:
        for pid in children:
            try:
                with open(f"{args.out}.{pid}") as part:
                    text = part.read()
            except FileNotFoundError:
                continue
            out.write(text)
            for line in text.splitlines():
                stack, _, count = line.rpartition(" ")
                frames = stack.split(";")
                n = int(count)
                all_samples += n
                self_samples[frames[-1]] += n
                for frame in set(frames):
                    total_samples[frame] += n
    print(f"{all_samples} samples; self:")
    for frame, n in self_samples.most_common(30):
        print(f"  {100 * n / all_samples:5.1f}%  {frame}")
    print("inclusive:")
    for frame, n in total_samples.most_common(45):
        print(f"  {100 * n / all_samples:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
