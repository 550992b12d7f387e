"""The admin index's "Background jobs" panel."""

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
    from worker.scheduler import next_tick
    from worker.status import jobs_status

    try:
        outbox = pending()
    except DatabaseError:
        logger.exception("jobs panel: outbox unreadable")
        outbox = None
    now = timezone.now()
    schedule = [
        {"task": e.task, "when": e.description, "next": timezone.localtime(next_tick(e, now))}
        for e in get_schedule()
    ]
    try:
        status = jobs_status(get_connection())
    except Exception:
        logger.exception("jobs panel: Redis unreachable")
        return {"redis_down": True, "schedule": schedule, "outbox": outbox}
    return {"redis_down": False, "status": status, "schedule": schedule, "outbox": outbox}
