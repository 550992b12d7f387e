from django.apps import AppConfig


class BookstoreConfig(AppConfig):
    """The project itself: project-wide commands (seed_demo) and views (health)."""

    name = "bookstore"
    verbose_name = "Bookstore"

    def ready(self):
        from prometheus_client import REGISTRY

        from worker.collector import JobMetricsCollector
        from worker.queues import get_connection

        # The job counts live in Redis; /metrics reads them at each scrape.
        REGISTRY.register(JobMetricsCollector(get_connection))
