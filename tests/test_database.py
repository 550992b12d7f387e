import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_suite_runs_on_postgresql():
    # bin/test points DATABASE_URL at a throwaway PostgreSQL cluster; SQLite is only the
    # demo's default and must not stand in for production's database in the tests.
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 130000
