"""The admin index's "Background jobs" panel."""

import logging
import time

from django import template
from django.utils import timezone

register = template.Library()
logger = logging.getLogger(__name__)


@register.inclusion_tag("worker/jobs_panel.html")
def jobs_panel() -> dict:
    from rq import Worker

    from worker.queues import get_connection, get_queue
    from worker.registry import QUEUE_NAMES
    from worker.schedule import get_schedule
    from worker.scheduler import HEARTBEAT_KEY, next_tick

    now = timezone.now()
    schedule = [
        {"task": e.task, "when": e.description, "next": timezone.localtime(next_tick(e, now))}
        for e in get_schedule()
    ]
    try:
        connection = get_connection()
        queues = []
        for name in QUEUE_NAMES:
            queue = get_queue(name)
            queues.append(
                {
                    "name": name,
                    "queued": queue.count,
                    "started": queue.started_job_registry.count,
                    "scheduled": queue.scheduled_job_registry.count,
                    "failed": queue.failed_job_registry.count,
                }
            )
        workers = Worker.count(connection=connection)
        beat = connection.hget(HEARTBEAT_KEY, "at")
    except Exception:
        logger.exception("jobs panel: Redis unreachable")
        return {"redis_down": True, "schedule": schedule}
    age = round(time.time() - float(beat)) if beat else None
    return {
        "redis_down": False,
        "queues": queues,
        "failed_total": sum(q["failed"] for q in queues),
        "workers": workers,
        "scheduler_age": age,
        "scheduler_ok": age is not None and age < 120,
        "schedule": schedule,
    }
