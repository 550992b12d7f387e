"""The pickup benchmark's probe task (bench/pickup.py), registered through
EXTRA_TASK_MODULES: it records how long after its enqueue a worker started it."""

import time

from worker.queues import get_connection
from worker.registry import task


@task("bench:probe", queue="default", max_retries=0, timeout=30, purpose="benchmark: pickup latency")
def probe(sent_at: float, key: str) -> None:
    get_connection().rpush(key, time.time() - sent_at)
