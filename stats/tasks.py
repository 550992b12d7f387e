"""Statistics jobs: thin adapters over services."""

from stats.exceptions import FutureStatsDate, InvalidRefreshDays, InvalidStatsDate
from stats.services import parse_refresh_days, parse_stats_date, stats_generate_nightly
from worker.registry import task


@task(
    "stats:daily",
    queue="low",
    max_retries=5,
    timeout=300,
    max_concurrency=1,
    purpose="Computes one local day's figures (default: yesterday) and the refresh_days days before it.",
    throws=(InvalidStatsDate, FutureStatsDate, InvalidRefreshDays),
)
def generate_daily_stats(date: str | None = None, refresh_days: int = 0) -> dict:
    """The schedule's nightly run passes ``refresh_days=STATS_REFRESH_DAYS``; a run for
    one date (a backfill, a manual re-run) passes nothing and touches only that day."""
    rows = stats_generate_nightly(day=parse_stats_date(date), refresh_days=parse_refresh_days(refresh_days))
    row = rows[-1]
    return {
        "date": row.date.isoformat(),
        "total_orders": row.total_orders,
        "total_revenue": str(row.total_revenue),
        "refreshed_from": rows[0].date.isoformat(),
        "refreshed_days": len(rows) - 1,
    }
