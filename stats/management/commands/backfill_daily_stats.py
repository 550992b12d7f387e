import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext
from redis.exceptions import RedisError
from tqdm import tqdm

from stats.exceptions import StatsError
from stats.services import parse_stats_date, stats_generate_daily
from worker.queues import TaskCall, enqueue_many, redis_address


class Command(BaseCommand):
    help = "Computes the daily statistics of every day in a range, inline or as one job per day."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD (inclusive)")
        parser.add_argument(
            "--enqueue", action="store_true", help="enqueue one stats:daily job per day instead"
        )

    def handle(self, *args, start: str, end: str, enqueue: bool, **options):
        try:
            first, last = parse_stats_date(start), parse_stats_date(end)
        except StatsError as error:
            raise CommandError(str(error)) from None
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}")
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        if enqueue:
            try:
                enqueue_many([TaskCall("stats:daily", kwargs={"date": day.isoformat()}) for day in days])
            except RedisError as error:
                raise CommandError(
                    f"nothing enqueued: Redis at {redis_address()} is unavailable ({error})"
                ) from None
            self.stdout.write(
                ngettext(
                    "Enqueued %(n)d stats:daily job, %(first)s to %(last)s.",
                    "Enqueued %(n)d stats:daily jobs, %(first)s to %(last)s.",
                    len(days),
                )
                % {"n": len(days), "first": first, "last": last}
            )
            return
        for day in tqdm(days, unit="day", disable=options["verbosity"] < 1):
            stats_generate_daily(day=day)
        self.stdout.write(
            ngettext(
                "Computed the statistics of %(n)d day, %(first)s to %(last)s.",
                "Computed the statistics of %(n)d days, %(first)s to %(last)s.",
                len(days),
            )
            % {"n": len(days), "first": first, "last": last}
        )
