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
