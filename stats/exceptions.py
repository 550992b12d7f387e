"""Errors of the statistics domain.

Whether a job fails at once on one of them is declared with its task (``throws=`` in
``stats/tasks.py``), not here.
"""


class StatsError(Exception):
    """Base of the statistics domain's errors."""


class InvalidStatsDate(StatsError):
    """The date is not a real ``YYYY-MM-DD`` day."""


class FutureStatsDate(StatsError):
    """The day has not begun yet in TIME_ZONE: there is nothing to count."""


class InvalidRefreshDays(StatsError):
    """The number of days to recompute is not a whole number of zero or more."""
