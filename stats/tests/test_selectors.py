import datetime as dt

from django.utils import timezone

from stats.selectors import stats_day_for_run


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=timezone.get_default_timezone())


def test_a_run_covers_the_day_before_in_the_store_time_zone():
    assert stats_day_for_run(at=local("2026-11-24T01:00")) == dt.date(2026, 11, 23)
    assert stats_day_for_run(at=local("2026-11-24T00:00")) == dt.date(2026, 11, 23)
    assert stats_day_for_run(at=local("2026-11-23T23:59:59")) == dt.date(2026, 11, 22)
    # 18:00 UTC on the 23rd is already 01:00 on the 24th in Ho Chi Minh City.
    assert stats_day_for_run(at=dt.datetime(2026, 11, 23, 18, tzinfo=dt.UTC)) == dt.date(2026, 11, 23)
    assert stats_day_for_run(at=local("2026-01-01T01:00")) == dt.date(2025, 12, 31)


def test_a_run_now_covers_yesterday():
    assert stats_day_for_run() == timezone.localdate() - dt.timedelta(days=1)
