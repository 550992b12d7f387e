from importlib import import_module

from django.apps import AppConfig
from django.conf import settings
from django.utils.module_loading import autodiscover_modules


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Background jobs"

    def ready(self):
        from worker import rq_speedups

        rq_speedups.install()  # before any job is read: rq's date parsing, made fast
        # Each app's tasks.py registers its tasks; the registry is complete once apps load.
        autodiscover_modules("tasks")
        from worker import redis_checks  # noqa: F401  (registers the deploy check)

        for module in settings.EXTRA_TASK_MODULES:
            import_module(module)
