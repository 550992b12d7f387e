"""The statistics job's permanent errors, as declared with ``throws=``."""

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from stats.exceptions import FutureStatsDate, InvalidRefreshDays, InvalidStatsDate
from stats.tasks import generate_daily_stats
from worker.registry import registry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("2026-02-30", InvalidStatsDate),
        ("yesterday", InvalidStatsDate),
        ((timezone.localdate() + dt.timedelta(days=2)).isoformat(), FutureStatsDate),
    ],
)
def test_a_date_that_can_never_be_computed_fails_the_job_at_once(value, kind):
    with pytest.raises(kind) as error:
        generate_daily_stats(value)
    assert registry.get("stats:daily").is_permanent(error.value)


def test_a_bad_refresh_window_fails_the_job_at_once():
    with pytest.raises(InvalidRefreshDays) as error:
        generate_daily_stats("2026-11-20", refresh_days=-1)
    assert registry.get("stats:daily").is_permanent(error.value)


@pytest.mark.parametrize("error", [RuntimeError("boom"), OperationalError("the database is starting up")])
def test_anything_else_is_retried(error):
    assert not registry.get("stats:daily").is_permanent(error)
