"""The one declarative schedule: what run_scheduler fires, when, and how it catches up.

Cron expressions are read in TIME_ZONE. Arguments that depend on the fire time are
computed from the tick, at fire time: the statistics run at 01:00 on 24 November is for
23 November (``stats.selectors.stats_day_for_run``), whenever it actually runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from django.conf import settings
from django.utils import timezone

from stats.selectors import stats_day_for_run


class CatchUp(Enum):
    LATEST = "latest"  # after downtime, fire once for the most recent missed tick
    EACH = "each"  # fire every missed tick, up to max_catch_up of them


def _no_arguments(tick: dt.datetime) -> dict:
    return {}


def _stats_day_of(tick: dt.datetime) -> dict:
    # The nightly run also recomputes the days before, which later completions and
    # cancellations change (DESIGN.md, Scheduler).
    return {"date": stats_day_for_run(at=tick).isoformat(), "refresh_days": settings.STATS_REFRESH_DAYS}


@dataclass(frozen=True)
class Entry:
    key: str  # letters, digits and "-": part of every job id of this entry
    task: str
    cron: str | None = None
    every: int | None = None  # seconds, ticks aligned on multiples since the epoch
    catch_up: CatchUp = CatchUp.LATEST
    max_catch_up: int = 1
    arguments: Callable[[dt.datetime], dict] = field(default=_no_arguments)

    def __post_init__(self):
        if (self.cron is None) == (self.every is None):
            raise ValueError(f"schedule entry {self.key}: give cron or every, not both")
        if self.every is not None and self.every < 1:
            raise ValueError(f"schedule entry {self.key}: every must be at least 1 second")

    @property
    def description(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.every} s"

    def job_id(self, tick: dt.datetime) -> str:
        """Deterministic per entry and tick, e.g. sched-stats-daily-20261124T0100."""
        local = timezone.localtime(tick)
        stamp = local.strftime("%Y%m%dT%H%M" if self.cron else "%Y%m%dT%H%M%S")
        return f"sched-{self.key}-{stamp}"


def get_schedule() -> list[Entry]:
    return [
        Entry(key="cart-cleanup", task="cart:cleanup", cron="*/10 * * * *"),
        Entry(
            key="stats-daily",
            task="stats:daily",
            cron="0 1 * * *",
            catch_up=CatchUp.EACH,
            max_catch_up=settings.STATS_CATCH_UP_DAYS,
            arguments=_stats_day_of,
        ),
        Entry(key="inventory-check-low-stock", task="inventory:check_low_stock", cron="0 * * * *"),
        Entry(
            key="order-check-pending", task="order:check_pending", every=settings.PENDING_ORDER_CHECK_INTERVAL
        ),
    ]
