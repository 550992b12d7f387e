"""The supervising parent of ``rqworker``: it forks the long-lived process that works,
and starts a fresh one whenever that process ends without a stop being asked for.

rq's own worker forks a process for every job (about 20 ms with Django loaded); this one
runs jobs in a long-lived child (about 4 ms a job) and keeps what forking gave:

* A crash mid-job (a segfault, the kernel's OOM killer) costs the job one attempt, not
  the worker: its job goes to the abandoned-job handling at once, and a fresh process
  takes over.
* A child that ends on an error (rq's work loop returns after a Redis timeout or an
  unhandled exception) is replaced too, after 1, 2, then 4 s: only a requested stop,
  ``--burst`` or ``--max-jobs`` ends the worker.
* Recycling: after WORKER_MAX_JOBS jobs or above WORKER_MAX_RSS_MB (a leaking job) the
  child exits and a fresh one starts at once.
* SIGTERM or Ctrl-C lets the running job finish, then the worker exits 0; a second one is
  a cold stop. A stop asked for while no child runs (between two) ends the worker there.
* ``--max-jobs N`` counts the jobs of every child, through a counter in shared memory.
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import struct
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress

from django.db import connections

logger = logging.getLogger("worker.jobs")

EXIT_DONE = 0  # asked to stop, or the work is done (--burst with empty queues, --max-jobs)
EXIT_ERROR = 70  # rq's work loop ended on an error: start a fresh process
EXIT_RECYCLE = 75  # due for recycling (jobs or memory limit): start a fresh process at once
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
RESTART_DELAYS = (1.0, 2.0, 4.0)  # seconds before restarting a failed child, then 4 s each time
STABLE_AFTER = 30.0  # a child that lived this long resets the restart delay


class JobCounter:
    """Jobs done by every child of this supervisor: eight bytes of memory shared across
    fork, written by the working child's threads, read by the parent."""

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, 8)
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return struct.unpack_from("q", self._memory)[0]

    def add(self, n: int = 1) -> None:
        with self._lock:
            struct.pack_into("q", self._memory, 0, self.value + n)


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"died (signal {os.WTERMSIG(status)})"
    return f"ended (exit {os.WEXITSTATUS(status)})"


class Supervisor:
    def __init__(
        self,
        # Runs in the child with SIGTERM and SIGINT blocked: it installs its own handlers,
        # then unblocks them (a signal sent meanwhile is delivered then).
        run_child: Callable[[str, int | None, JobCounter], int],
        recover: Callable[[str], None],
        *,
        burst: bool,
        max_jobs: int | None,
    ):
        self._run_child = run_child
        self._recover = recover
        self._burst = burst
        self._max_jobs = max_jobs
        self._stop_signals = 0
        self._child_pid = 0
        self.done = JobCounter()

    def _on_signal(self, signum, frame) -> None:
        self._stop_signals += 1
        if self._child_pid:
            # The first signal asks for a warm stop; a second one for a cold stop.
            with suppress(ProcessLookupError):
                os.kill(self._child_pid, signal.SIGTERM if self._stop_signals == 1 else signal.SIGKILL)

    @property
    def stopping(self) -> bool:
        return self._stop_signals > 0

    def run(self) -> bool:
        """Supervises until the work is done or a stop is asked; True if any job ran."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        failures = 0
        while not self.stopping:
            left = self._max_jobs - self.done.value if self._max_jobs else None
            connections.close_all()  # never share a database socket with the child
            name = uuid.uuid4().hex
            started = time.monotonic()
            # A stop signal that comes during the fork waits until the parent knows its
            # child (and the child its own handlers: run_child unblocks them).
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            pid = os.fork()
            if pid == 0:
                code = EXIT_ERROR
                try:
                    code = self._run_child(name, left, self.done)
                finally:
                    os._exit(code)
            self._child_pid = pid
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            _, status = os.waitpid(self._child_pid, 0)
            self._child_pid = 0
            if self._max_jobs and self.done.value >= self._max_jobs:
                logger.info("worker: %s jobs done (--max-jobs); exiting", self.done.value)
                break
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            if code == EXIT_DONE:
                break
            if code == EXIT_RECYCLE:
                logger.info("worker process %s recycled; starting a fresh one", name)
                failures = 0
                continue
            self._recover(name)
            if self._burst:
                logger.error("worker process %s %s in burst mode; exiting", name, describe_exit(status))
                break
            failures = failures + 1 if time.monotonic() - started < STABLE_AFTER else 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]
            logger.error(
                "worker process %s %s without a stop being asked; its job recovered, restarting in %.0f s",
                name,
                describe_exit(status),
                delay,
            )
            self._sleep(delay)
        if self.stopping:
            logger.info("worker: stopped on request")
        return self.done.value > 0

    def _sleep(self, seconds: float) -> None:
        """Sleeps, waking at once for a stop request."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.05, deadline - time.monotonic()))
