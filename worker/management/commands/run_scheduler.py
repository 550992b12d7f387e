import signal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from redis.exceptions import RedisError

from worker.queues import get_connection
from worker.redis_checks import eviction_problem
from worker.registry import registry
from worker.schedule import get_schedule
from worker.scheduler import Scheduler, next_tick


class Command(BaseCommand):
    help = (
        "Fires the cron and interval schedules and moves due delayed jobs onto their queues. "
        "Run one or more: a Redis lock makes exactly one of them active."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--list", action="store_true", help="print the schedule with each next fire, and exit"
        )

    def handle(self, *args, list: bool, **options):
        entries = get_schedule()
        if list:
            now = timezone.now()
            for entry in entries:
                task = registry.get(entry.task)
                fire = timezone.localtime(next_tick(entry, now))
                self.stdout.write(
                    f"{entry.task:<27} {entry.description:<20} queue {task.queue:<8} "
                    f"next {fire:%Y-%m-%d %H:%M:%S %Z}  catch-up {entry.catch_up.value}"
                )
            return
        try:
            problem = eviction_problem(get_connection())
        except RedisError:
            problem = None  # away: the scheduler waits for it
        if problem:
            raise CommandError(f"refusing to start: {problem}")
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        Scheduler(get_connection(), entries).run(lambda: stop["requested"])
