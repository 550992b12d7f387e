"""Statistics jobs: thin adapters over services."""

from stats.exceptions import FutureStatsDate, InvalidStatsDate
from stats.services import parse_stats_date, stats_generate_daily
from worker.registry import task


@task(
    "stats:daily",
    queue="low",
    max_retries=5,
    timeout=300,
    purpose="Computes one local day's figures (default: yesterday) and upserts its row.",
    throws=(InvalidStatsDate, FutureStatsDate),
)
def generate_daily_stats(date: str | None = None) -> dict:
    row = stats_generate_daily(day=parse_stats_date(date))
    return {
        "date": row.date.isoformat(),
        "total_orders": row.total_orders,
        "total_revenue": str(row.total_revenue),
    }
