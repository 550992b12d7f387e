"""Writes on statistics."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone

from stats.exceptions import FutureStatsDate, InvalidRefreshDays, InvalidStatsDate
from stats.models import DailyStatistics
from stats.selectors import daily_figures, stats_day_for_run

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
BAD_DATE = "statistics date {value!r}: expected YYYY-MM-DD"
FUTURE_DATE = "statistics date {value}: the day has not begun yet in {tz}"
BAD_REFRESH_DAYS = "refresh_days {value!r}: expected a whole number of days, 0 or more"


def parse_stats_date(value: str | None) -> dt.date:
    """``None`` is the day a run now covers (yesterday in TIME_ZONE); anything but a real
    YYYY-MM-DD is an InvalidStatsDate, a day after today a FutureStatsDate."""
    if value is None:
        return stats_day_for_run()
    text = str(value)
    try:
        if not DATE_PATTERN.fullmatch(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidStatsDate(BAD_DATE.format(value=value)) from None
    if day > timezone.localdate():
        raise FutureStatsDate(FUTURE_DATE.format(value=value, tz=timezone.get_current_timezone_name()))
    return day


def parse_refresh_days(value: int | str | None) -> int:
    """``None`` is 0; anything but a whole number of zero or more is an InvalidRefreshDays."""
    if value is None:
        return 0
    if isinstance(value, bool) or not str(value).isdigit():
        raise InvalidRefreshDays(BAD_REFRESH_DAYS.format(value=value))
    return int(value)


def _upsert(rows: list[DailyStatistics]) -> None:
    """One INSERT ... ON CONFLICT (date) DO UPDATE for all the rows: running it again, or
    twice at once, leaves one right row per day."""
    fields = [
        f.attname for f in DailyStatistics._meta.concrete_fields if f.name not in ("id", "date", "created_at")
    ]
    DailyStatistics.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["date"], update_fields=fields
    )


def stats_generate_daily(*, day: dt.date) -> DailyStatistics:
    """Computes the figures of ``day`` and upserts its one row, stamped ``computed_at``."""
    _upsert([DailyStatistics(date=day, computed_at=timezone.now(), **daily_figures(day))])
    return DailyStatistics.objects.get(date=day)


def stats_generate_nightly(*, day: dt.date, refresh_days: int) -> list[DailyStatistics]:
    """The nightly run: the figures of ``day`` (yesterday) and of the ``refresh_days``
    days before it, so that those rows follow the orders completed or cancelled since
    they were computed. Rows before that window are not touched.

    Each day is the same set-wise computation as ``stats_generate_daily`` (a handful of
    aggregates over that day's orders, by the created_at index), so the work is bounded by
    the window, not by the table; the rows are written by one upsert, in one
    transaction, all stamped with the same ``computed_at``. Returns them, oldest first."""
    days = [day - dt.timedelta(days=n) for n in range(refresh_days, -1, -1)]
    figures = [(d, daily_figures(d)) for d in days]
    computed_at = timezone.now()
    _upsert([DailyStatistics(date=d, computed_at=computed_at, **f) for d, f in figures])
    return list(DailyStatistics.objects.filter(date__gte=days[0], date__lte=day).order_by("date"))
