"""Fixtures shared by every app's tests. The servers are real: bin/test starts a
throwaway PostgreSQL and Redis and points DATABASE_URL and REDIS_URL at them."""

import pytest


@pytest.fixture
def redis_conn():
    """The queues' Redis, emptied before and after the test."""
    import django_rq

    connection = django_rq.get_connection("default")
    connection.flushdb()
    yield connection
    connection.flushdb()


# --- real processes ------------------------------------------------------------------

# Worker timings for tests: the same mechanisms with shorter knobs, so recovery that
# takes about a minute in production takes seconds here.
FAST_WORKER_ENV = {
    "WORKER_HEARTBEAT_INTERVAL": "1",
    "WORKER_HEARTBEAT_GRACE": "3",
    "WORKER_MAINTENANCE_INTERVAL": "2",
    "EXTRA_TASK_MODULES": "tests.jobs",
}


@pytest.fixture
def child_env(request):
    """Environment for child processes: this test run's Redis and test database."""
    from django.db import connection

    from tests.helpers import manage_env

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return manage_env(DATABASE_URL=url, **FAST_WORKER_ENV)


@pytest.fixture
def processes(child_env, tmp_path):
    """Starts real manage.py processes; every one still running is killed at teardown."""
    from tests.helpers import ManagedProcess

    started = []

    def start(*args: str, **env_overrides: str):
        env = {**child_env, **env_overrides}
        process = ManagedProcess(list(args), env, tmp_path / f"{args[0]}-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
