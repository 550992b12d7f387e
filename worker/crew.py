"""Threads in the working process: ``WORKER_CONCURRENCY`` of them, each an rq worker.

The model is Sidekiq's processors rather than a dispatcher feeding a pool (Celery,
Dramatiq): every thread takes its own job from Redis, in weighted order with the atomic
move into the intermediate list, waits on the wake-up list when idle, and runs the job
with its own database connection (Django's connections are per thread). Each thread is
registered as a worker of its own, ``<process name>-<n>``, with its own heartbeats and
started-registry entry, so the dashboard, ``rq info``, the abandoned-job clean-up and the
supervisor's recovery after a crash see every running job as with one thread.

The process's main thread runs no job. It takes SIGTERM and SIGINT (a warm stop for every
thread: each running job finishes), passes a stop one thread decided (recycling, an
orphaned process, the job limit) to the others, and watches for a job stuck past its
timeout in a call no exception can interrupt.

Timeouts: rq's death penalty by SIGALRM works in the main thread only. A thread's job is
ended by an exception raised in that thread when its timeout passes (the mechanism of
rq's ``TimerDeathPenalty`` and Dramatiq's time limits), by the main thread, within
``WATCH_EVERY`` seconds of the deadline. Python delivers it at the
job's next bytecode: a job blocked in C (a socket read, ``time.sleep``) sees it when the
call returns. A job still running ``WORKER_STUCK_JOB_GRACE`` seconds after its timeout
makes the process finish its other jobs and exit; the supervisor starts a fresh one and
hands the stuck job to the abandoned-job handling (retried or failed by its policy).

``rq``'s worker is written for one job per process; what it keeps per process (signal
handlers, the SIGALRM penalty, ``max_jobs``) is replaced here, the rest is per instance.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from rq.timeouts import BaseDeathPenalty, JobTimeoutException

if TYPE_CHECKING:
    from worker.registry import Task

logger = logging.getLogger("worker.jobs")

WATCH_EVERY = 0.05  # seconds between two looks of the main thread at its threads
OTHERS_IDLE_WAIT = 2.0  # seconds the idle threads other than the watcher block at a time


def member_names(process_name: str, concurrency: int) -> list[str]:
    """The rq worker names of a working process: its own with one thread, else one per
    thread."""
    if concurrency <= 1:
        return [process_name]
    return [f"{process_name}-{n}" for n in range(1, concurrency + 1)]


class ThreadDeathPenalty(BaseDeathPenalty):
    """A job's timeout in a thread: the exception is raised in the job's thread
    (``PyThreadState_SetAsyncExc``, as rq's ``TimerDeathPenalty`` and Dramatiq's time
    limits do) by the process's main thread, which looks at the armed penalties every
    ``WATCH_EVERY`` seconds (``fire_due_penalties``). rq's ``TimerDeathPenalty`` starts a
    timer thread for every job, a fifth of a no-op job's time; here nothing is started.
    Once the job's block has ended the penalty cannot fire."""

    def __init__(self, timeout, exception=JobTimeoutException, **kwargs):
        super().__init__(timeout, _with_message(exception, timeout), **kwargs)
        self._thread_id = threading.get_ident()
        self._deadline = 0.0

    def setup_death_penalty(self):
        if self._timeout > 0:
            self._deadline = time.monotonic() + self._timeout
            with _penalties_lock:
                _penalties.add(self)

    def cancel_death_penalty(self):
        with _penalties_lock:
            _penalties.discard(self)


_penalties: set[ThreadDeathPenalty] = set()
_penalties_lock = threading.Lock()


def fire_due_penalties(at: float) -> None:
    """Raises each due penalty's exception in its thread (once: it is disarmed)."""
    with _penalties_lock:
        due = [penalty for penalty in _penalties if penalty._deadline <= at]
        for penalty in due:
            _penalties.discard(penalty)
            answer = ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(penalty._thread_id), ctypes.py_object(penalty._exception)
            )
            if answer > 1:  # never expected: undo, as the C API asks
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(penalty._thread_id), None)


@functools.cache
def _with_message(exception: type[BaseException], timeout) -> type[BaseException]:
    """``exception`` with the timeout in its message: an asynchronous exception is raised
    from its class, without arguments. (rq's penalty rewrites the class's own __init__,
    for every thread at once.)"""
    message = f"Task exceeded maximum timeout value ({timeout} seconds)"

    def __init__(self, *args):
        exception.__init__(self, *(args or (message,)))

    return type(exception.__name__, (exception,), {"__init__": __init__, "__module__": exception.__module__})


class Slots:
    """How many more jobs this process may start (``--max-jobs``, WORKER_MAX_JOBS): a
    thread takes a slot before it takes a job, and gives it back if there was none, so
    the limit is exact with any number of threads."""

    def __init__(self, limit: int | None):
        self._left = limit
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left is None:
                return True
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def give_back(self) -> None:
        with self._lock:
            if self._left is not None:
                self._left += 1

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self._left is not None and self._left <= 0


class Caps:
    """Each task's ``max_concurrency``: at most that many of its jobs run at once in this
    process, so a long ``stats:daily`` catch-up cannot take every thread."""

    def __init__(self) -> None:
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, task: Task | None) -> bool:
        if task is None or not task.max_concurrency:
            return True
        with self._lock:
            if self._running[task.name] >= task.max_concurrency:
                return False
            self._running[task.name] += 1
            return True

    def release(self, task: Task | None) -> None:
        if task is None or not task.max_concurrency:
            return
        with self._lock:
            self._running[task.name] -= 1


class IdleWatch:
    """While several threads are idle, one of them (the watcher) looks at the queues
    every ``wake.WAIT`` seconds; the others block on the wake-up list for up to
    ``OTHERS_IDLE_WAIT`` seconds, so an idle process wakes about 5 times a second, not 5
    times per thread. A token (every enqueue path pushes one) wakes a waiting thread at
    once; a job queued without one (``rq requeue``) is seen by the watcher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watcher = None

    def seconds(self, member, short: float) -> float:
        with self._lock:
            if self._watcher is None or self._watcher is member:
                self._watcher = member
                return short
        return OTHERS_IDLE_WAIT

    def leave(self, member) -> None:
        with self._lock:
            if self._watcher is member:
                self._watcher = None


class Crew:
    """The threads of one working process, and what they share."""

    def __init__(self, limit: int | None, stuck_grace: float):
        self.slots = Slots(limit)
        self.caps = Caps()
        self.idle = IdleWatch()
        self.stuck_grace = stuck_grace
        self.members: list = []
        self.stuck = False
        self._first_signal_at: float | None = None

    def run(self, members: list, work: Callable) -> None:
        """Runs ``work(member)`` in a thread per member until all have ended; returns
        early (leaving a stuck thread behind) when a job is stuck past its timeout."""
        self.members = members
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        threads = [
            threading.Thread(target=work, args=(member,), name=member.name, daemon=True) for member in members
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            time.sleep(WATCH_EVERY)
            fire_due_penalties(time.monotonic())
            if any(member._stop_requested for member in members):
                self.stop()
            if not self.stuck and self._stuck_member() is not None:
                self.stuck = True
                self.stop()
            if self.stuck and not any(
                thread.is_alive() for thread, member in zip(threads, members, strict=True) if not member.stuck
            ):
                return  # the stuck thread ends with the process

    def _on_signal(self, signum, frame) -> None:
        # As rq's worker: a second signal within a second is the same request arriving
        # twice (Ctrl-C reaches both the supervisor, which forwards it, and this process).
        at = time.monotonic()
        if self._first_signal_at is None:
            self._first_signal_at = at
            logger.info("worker: warm stop requested; the running jobs finish first")
            self.stop()
        elif at - self._first_signal_at >= 1:
            raise SystemExit(1)  # a cold stop; the running jobs are recovered as abandoned

    def stop(self) -> None:
        for member in self.members:
            member.request_warm_stop()

    def _stuck_member(self):
        at = time.monotonic()
        for member in self.members:
            deadline = member.job_deadline
            if deadline is not None and at > deadline + self.stuck_grace:
                member.stuck = True
                logger.error(
                    "worker %s: job %s is still running %.0f s past its timeout, in a call that cannot "
                    "be interrupted; this process ends once its other jobs finish, and the job is "
                    "handled as abandoned",
                    member.name,
                    member.get_current_job_id(),
                    at - deadline,
                )
                return member
        return None
