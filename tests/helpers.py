"""Helpers for tests that start real ``manage.py`` processes."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def manage_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a child ``manage.py``: this test run's servers and settings,
    with ``overrides`` applied (a value of None removes the variable)."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings_test")
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_manage(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env or manage_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str = "the condition"):
    """Polls ``predicate`` until it returns a truthy value, which is returned."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """A real ``manage.py`` process in a session of its own, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def send(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def kill_group(self) -> None:
        """kill -9 of the process and every process it started (its children too)."""
        import signal

        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.alive():
            self.kill_group()
        else:
            import signal

            # Children of a supervisor killed on its own may still run.
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()


def job_status(job_id: str) -> str:
    """A job's status as stored in Redis now."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from worker.queues import get_connection

    return Job.fetch(job_id, connection=get_connection(), serializer=JSONSerializer).get_status()


def registered_workers(connection=None) -> list:
    """The workers in rq's worker registry (``rq:workers``), as rq itself reads them."""
    from rq import Worker

    from worker.queues import get_connection

    return Worker.all(connection=connection or get_connection())


def wait_for_workers(count: int, *, idle: bool = False, timeout: float = 30) -> list:
    """Waits until exactly ``count`` worker processes are registered with rq (and, with
    ``idle``, all of them polling the queues), and returns them."""
    from rq.worker import WorkerStatus

    def ready():
        workers = registered_workers()  # one per thread of each working process
        if len({worker.pid for worker in workers}) != count:
            return None
        if idle and any(worker.get_state() != WorkerStatus.IDLE for worker in workers):
            return None
        return workers

    return wait_until(ready, timeout=timeout, what=f"{count} registered{' idle' if idle else ''} worker(s)")


def run_marker_job(*, delay: float, timeout: float = 60) -> str:
    """Enqueues the ``test:stamp`` task ``delay`` seconds ahead and waits until a worker
    has finished it; returns its job id.

    This is how a test shows that something did *not* happen by a given time: the marker
    goes through the same path as a retry would (scheduled registry, run_scheduler, the
    ``default`` queue, a worker). A job due before it is moved onto the queue before it,
    so once the marker has run, a single worker has run that job too, however slow the
    machine. It needs ``tests.jobs`` registered, a running ``run_scheduler`` and a worker
    on the ``default`` queue."""
    from worker.queues import enqueue

    job_id = enqueue("test:stamp", "test:marker", delay=delay)
    wait_until(lambda: job_status(job_id) == "finished", timeout=timeout, what="the marker job")
    return job_id
