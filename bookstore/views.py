"""Health and metrics endpoints. They tell an operator the truth at a glance and a
stranger nothing: no error text, host or password ever goes into a body (details go to
the log), and each probe has a short timeout, so a hung store means a quick 503."""

from __future__ import annotations

import hmac
import logging
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

logger = logging.getLogger("bookstore.health")

PROBE_TIMEOUT = 2  # seconds, for each of Redis and the database
SCHEDULER_STALE_AFTER = 120  # seconds without a scheduler heartbeat


def _probe_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=PROBE_TIMEOUT,
        socket_connect_timeout=PROBE_TIMEOUT,
        retry_on_timeout=False,
    )


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT * 1000}")
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.exception("health: database probe failed")
        connection.close()
        return False


def _redis_up(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        logger.exception("health: Redis probe failed")
        return False


@never_cache
@require_GET
def health(request):
    database, redis_ok = _database_up(), _redis_up(_probe_redis())
    healthy = database and redis_ok
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "database": "up" if database else "down",
        "redis": "up" if redis_ok else "down",
    }
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def health_worker(request):
    from rq import Worker
    from rq.queue import Queue
    from rq.serializers import JSONSerializer

    from worker.registry import QUEUE_NAMES
    from worker.scheduler import HEARTBEAT_KEY

    client = _probe_redis()
    try:
        now = time.time()
        queues = {}
        for name in QUEUE_NAMES:
            queue = Queue(name, connection=client, serializer=JSONSerializer)
            oldest_id = client.lindex(queue.key, 0)
            oldest_age = None
            if oldest_id:
                enqueued_at = client.hget(f"rq:job:{oldest_id.decode()}", "enqueued_at")
                if enqueued_at:
                    from rq.utils import utcparse

                    oldest_age = round(now - utcparse(enqueued_at.decode()).timestamp(), 1)
            queues[name] = {
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "failed": queue.failed_job_registry.count,
                "oldest_queued_age_seconds": oldest_age,
            }
        workers = Worker.count(connection=client)
        beat = client.hget(HEARTBEAT_KEY, "at")
    except Exception:
        logger.exception("health: worker probe failed")
        return JsonResponse({"status": "unhealthy", "redis": "down"}, status=503)
    scheduler_age = round(now - float(beat), 1) if beat else None
    problems = []
    if workers == 0:
        problems.append("no live worker")
    if scheduler_age is None or scheduler_age > SCHEDULER_STALE_AFTER:
        problems.append("no scheduler heartbeat in the last 2 minutes")
    body = {
        "status": "unhealthy" if problems else "healthy",
        "problems": problems,
        "workers": workers,
        "scheduler_heartbeat_age_seconds": scheduler_age,
        "queues": queues,
    }
    return JsonResponse(body, status=503 if problems else 200)


@never_cache
def metrics(request):
    """django-prometheus's export, behind ``Authorization: Bearer <METRICS_TOKEN>`` when set."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    return ExportToDjangoView(request)


def not_found(request, *args, **kwargs):
    return HttpResponse("Not found\n", status=404, content_type="text/plain")
