"""Writes on statistics."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone

from stats.exceptions import FutureStatsDate, InvalidStatsDate
from stats.models import DailyStatistics
from stats.selectors import daily_figures, stats_day_for_run

DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
BAD_DATE = "statistics date {value!r}: expected YYYY-MM-DD"
FUTURE_DATE = "statistics date {value}: the day has not begun yet in {tz}"


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


def stats_generate_daily(*, day: dt.date) -> DailyStatistics:
    """Computes the figures of ``day`` and upserts its one row (INSERT ... ON CONFLICT DO
    UPDATE): running it again, or twice at once, leaves one right row."""
    figures = daily_figures(day)
    row = DailyStatistics(date=day, **figures)
    DailyStatistics.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["date"], update_fields=[*figures, "updated_at"]
    )
    return DailyStatistics.objects.get(date=day)
