"""Health and metrics endpoints. They tell an operator the truth at a glance and a
stranger nothing: no error text, host or password ever goes into a body (details go to
the log), and each probe has a short timeout, so a hung store means a quick 503."""

from __future__ import annotations

import hmac
import logging
import os

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from bookstore.apps import job_metrics
from worker.connection import connect

logger = logging.getLogger("bookstore.health")

PROBE_TIMEOUT = 2  # seconds, for each of Redis and the database


def _probe_redis() -> redis.Redis:
    return connect(timeout=PROBE_TIMEOUT)


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


HEALTH_KEY = "bookstore:health"


def _redis_up(client: redis.Redis) -> bool:
    """Up means it takes a write: a read-only replica, a full Redis (noeviction) or one
    still loading its data answers PING but could not take a job."""
    try:
        return bool(client.set(HEALTH_KEY, "1", px=10_000))
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
    from worker.outbox import pending
    from worker.status import jobs_status

    try:
        status = jobs_status(_probe_redis())
    except Exception:
        logger.exception("health: worker probe failed")
        return JsonResponse({"status": "unhealthy", "redis": "down"}, status=503)
    problems = list(status.problems)
    try:
        outbox = pending()
    except Exception:
        logger.exception("health: outbox unreadable")
        outbox = None
        problems.append("database down: outbox unreadable")
    if outbox is not None and outbox.stale:
        problems.append(f"outbox: jobs waiting more than {outbox.STALE_AFTER} s to reach Redis")
    body = {
        "status": "unhealthy" if problems else "healthy",
        "problems": problems,
        "workers": status.workers,
        "threads": status.threads,
        "scheduler_heartbeat_age_seconds": status.scheduler_age,
        "queues": {
            q.name: {
                "queued": q.queued,
                "started": q.started,
                "scheduled": q.scheduled,
                "failed": q.failed,
                "oldest_queued_age_seconds": q.oldest_queued_age,
            }
            for q in status.queues
        },
        "outbox": None
        if outbox is None
        else {"pending": outbox.count, "oldest_seconds": outbox.oldest_seconds},
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
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return ExportToDjangoView(request)  # one process: its own registry
    # Under gunicorn (bookstore/gunicorn_conf.py): every worker's samples, added up, and
    # the job metrics, which live in Redis.
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(job_metrics())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def not_found(request, *args, **kwargs):
    return HttpResponse("Not found\n", status=404, content_type="text/plain")
