from functools import cache

from django.apps import AppConfig


@cache
def job_metrics():
    """The collector of the job metrics, which live in Redis and are read at each scrape."""
    from worker.collector import JobMetricsCollector
    from worker.queues import get_connection

    return JobMetricsCollector(get_connection)


class BookstoreConfig(AppConfig):
    """The project itself: project-wide commands (seed_demo) and views (health)."""

    name = "bookstore"
    verbose_name = "Bookstore"

    def ready(self):
        from prometheus_client import REGISTRY

        REGISTRY.register(job_metrics())
