"""Shared by the benchmarks: Django set-up, real worker processes, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings")
os.environ.setdefault("EXTRA_TASK_MODULES", "bench.tasks")
sys.path.insert(0, str(PROJECT_DIR))

import django  # noqa: E402

django.setup()


def median(values: list[float]) -> float:
    return statistics.median(values)


def start_workers(count: int, *queues: str, **env: str) -> list[subprocess.Popen]:
    child_env = {**os.environ, **env}
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", *(queues or ("critical", "high", "default", "low"))],
            cwd=PROJECT_DIR,
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def wait_for_workers(count: int, timeout: float = 30) -> None:
    from rq import Worker

    from worker.queues import get_connection

    def processes() -> int:  # each thread of a working process registers as a worker
        return len({worker.pid for worker in Worker.all(connection=get_connection())})

    deadline = time.monotonic() + timeout
    while processes() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {processes()} of {count} worker processes started")
        time.sleep(0.1)


def stop_workers(workers: list[subprocess.Popen]) -> None:
    import signal

    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)


def proc_stats():
    """(pid, the fields of /proc/PID/stat after the command name) of every process: [0] is
    the state, [2] the process group, [3] the session, [11] and [12] utime and stime."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                yield int(entry), stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile


def report(name: str, unit: str, runs: list[float], command: str) -> None:
    runs_text = ", ".join(f"{r:,.0f}" for r in runs)
    print(f"{name}: median {median(runs):,.0f} {unit} over {len(runs)} runs ({runs_text})")
    print(f"  measured by: {command}")
