"""The job bodies of `bin/bench peers`, one set shared by every system so that each runs
the same code: our worker through bench/tasks.py, Celery, Dramatiq and Huey through
bench/peer_celery.py, bench/peer_dramatiq.py and bench/peer_huey.py.

The measured jobs (noop, update_status, io) write two marks to the probe Redis, a
separate redis-server that bench/peers.py starts for the measurement alone, so that
`INFO commandstats` on the queues' Redis counts only what the queue systems send:

* the start of the first job of each worker process (``ZADD ... LT``: the earliest wins);
* the end of each job (a counter, and ``ZADD ... GT``: the latest wins).

A job that raises pushes its error to a list, so the driver stops at once and names the
system, rather than waiting for jobs that will never be done.
"""

from __future__ import annotations

import functools
import os
import time
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# Redis databases of the peers, beside ours (REDIS_URL's, 0 under bin/bench).
CELERY_DB, DRAMATIQ_DB, HUEY_DB = 1, 2, 3

STARTS, ENDS, DONE, ERRORS, LATENCY, WARM = (
    "peers:starts",
    "peers:ends",
    "peers:done",
    "peers:errors",
    "peers:latency",
    "peers:warm",
)

_probe: redis.Redis | None = None
_started = False


def redis_url(db: int) -> str:
    """REDIS_URL with database ``db``: the same server, a database of each system's own."""
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit(parts._replace(path=f"/{db}"))


def probe() -> redis.Redis:
    global _probe
    if _probe is None:
        # The measurement's own marks: a slow connect or a dropped connection is tried
        # again rather than counted against the system measured (one in some 30,000
        # jobs timed out connecting here, under ours once and Dramatiq once).
        _probe = redis.Redis.from_url(
            os.environ["BENCH_PROBE_URL"],
            socket_timeout=30,
            socket_connect_timeout=30,
            retry=Retry(ExponentialBackoff(cap=1.0), 5),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
    return _probe


def _first_start() -> None:
    global _started
    if not _started:  # once per worker process (threads may race: the earliest wins anyway)
        _started = True
        probe().zadd(STARTS, {"first": time.time()}, lt=True)


def _job_end() -> None:
    pipe = probe().pipeline(transaction=False)
    pipe.incr(DONE)
    pipe.zadd(ENDS, {"last": time.time()}, gt=True)
    pipe.execute()


def measured(function):
    @functools.wraps(function)
    def job(*args) -> None:
        _first_start()
        try:
            function(*args)
        except BaseException as error:
            probe().rpush(ERRORS, f"{function.__name__}{args}: {type(error).__name__}: {error}")
            raise
        _job_end()

    return job


@measured
def noop() -> None:
    return None


@measured
def update_status(order_id: str) -> None:
    """The project's order:update_status task body (orders.services.order_update_status:
    row lock, UPDATE, history INSERT), pending -> confirmed."""
    from orders.tasks import update_order_status

    update_order_status(order_id, "confirmed", "bench peers")


@measured
def io() -> None:
    time.sleep(0.05)  # stands for a warehouse call


def latency(enqueued_at: float) -> None:
    """Pickup latency: start of execution minus the enqueue timestamp the job carries."""
    probe().rpush(LATENCY, time.time() - enqueued_at)


def warmup() -> None:
    """Tells the driver which worker processes are up and taking jobs."""
    probe().sadd(WARM, os.getpid())
