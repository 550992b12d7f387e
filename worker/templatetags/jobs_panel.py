"""The admin index's "Background jobs" panel."""

import datetime as dt
import logging

from django import template
from django.utils import timezone

register = template.Library()
logger = logging.getLogger(__name__)


@register.inclusion_tag("worker/jobs_panel.html")
def jobs_panel() -> dict:
    from django.db import DatabaseError

    from worker.outbox import pending
    from worker.queues import get_connection
    from worker.schedule import get_schedule
    from worker.scheduler import LAST_FIRE_KEY, next_tick
    from worker.status import jobs_status

    try:
        outbox = pending()
    except DatabaseError:
        logger.exception("jobs panel: outbox unreadable")
        outbox = None
    now = timezone.now()
    try:
        connection = get_connection()
        status = jobs_status(connection)
        last = {key.decode(): float(value) for key, value in connection.hgetall(LAST_FIRE_KEY).items()}
    except Exception:
        logger.exception("jobs panel: Redis unreachable")
        status, last = None, {}
    schedule = [
        {
            "task": e.task,
            "when": e.description,
            "last": timezone.localtime(dt.datetime.fromtimestamp(last[e.key], tz=dt.UTC))
            if e.key in last
            else None,
            "next": timezone.localtime(next_tick(e, now)),
        }
        for e in get_schedule()
    ]
    return {"redis_down": status is None, "status": status, "schedule": schedule, "outbox": outbox}
