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
