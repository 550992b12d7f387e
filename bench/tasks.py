"""Tasks that exist only for the benchmarks: registered when a benchmark runs, through
EXTRA_TASK_MODULES=bench.tasks, never in production."""

import time

from bench import peer_jobs
from worker.registry import task


@task("bench:noop", queue="default", max_retries=0, timeout=30, purpose="benchmark: does nothing")
def noop() -> None:
    return None


@task("bench:io", queue="default", max_retries=0, timeout=30, purpose="benchmark: 50 ms of waiting")
def io() -> None:
    time.sleep(0.05)  # stands for a warehouse call


# bin/bench peers: the same job bodies as Celery, Dramatiq and Huey run (bench/peer_jobs.py).
PEERS_OPTIONS = {"queue": "default", "max_retries": 0, "timeout": 60}
for _name, _function in (
    ("noop", peer_jobs.noop),
    ("update_status", peer_jobs.update_status),
    ("io", peer_jobs.io),
    ("latency", peer_jobs.latency),
    ("warmup", peer_jobs.warmup),
):
    task(f"bench:peers_{_name}", **PEERS_OPTIONS, purpose=f"benchmark (bin/bench peers): {_name}")(_function)
