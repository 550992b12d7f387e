"""Heartbeats for the running job from a side thread, so a job longer than the heartbeat
TTL keeps its place in the started registry, and a worker killed with ``kill -9`` has its
job found abandoned within WORKER_HEARTBEAT_INTERVAL + WORKER_HEARTBEAT_GRACE seconds (about
a minute in production), not rq's 7 to 10 minutes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from rq.job import Job

logger = logging.getLogger("worker.jobs")


class JobHeartbeats:
    def __init__(self, interval: float, beat: Callable[[Job], None], worker_name: Callable[[], str]):
        self._interval = interval
        self._beat = beat
        self._worker_name = worker_name
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._thread: threading.Thread | None = None

    def start(self, job: Job) -> None:
        """Beats for ``job`` from now on (the thread is started once per process)."""
        with self._lock:
            self._job = job
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        # Taking the lock waits out a heartbeat in flight: none is sent after the job ends,
        # so a finished job can never be re-added to the started registry.
        with self._lock:
            self._job = None

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                job = self._job
                if job is None:
                    continue
                try:
                    self._beat(job)
                except redis.RedisError as error:
                    logger.warning(
                        "worker %s: heartbeat for job %s failed: %s", self._worker_name(), job.id, error
                    )
