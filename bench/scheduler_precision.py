"""Fire precision of run_scheduler (issue 4): the delay from each tick of a 1-second
interval entry to its job's enqueue (rq's enqueued_at), over 100 ticks, with the
leader's real loop.

    bin/bench scheduler_precision [--ticks 100]
"""

from __future__ import annotations

import argparse
import statistics

from rq.job import Job
from rq.serializers import JSONSerializer

import bench.common  # noqa: F401  (Django set-up)
from worker.queues import get_connection
from worker.schedule import Entry
from worker.scheduler import Scheduler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=100)
    args = parser.parse_args()
    connection = get_connection()
    connection.flushdb()
    entry = Entry(key="bench-precision", task="bench:noop", every=1)
    scheduler = Scheduler(connection, [entry])
    fires = []
    original = scheduler.fire_due

    def recording_fire_due(now):
        result = original(now)
        fires.extend(result)
        return result

    scheduler.fire_due = recording_fire_due
    scheduler.run(lambda: len(fires) > args.ticks)
    delays = []
    for fire in fires[1:]:  # the first fire is the start-up tick, up to a second late by design
        job = Job.fetch(fire.job_id, connection=connection, serializer=JSONSerializer)
        delays.append((job.enqueued_at.replace(tzinfo=fire.tick.tzinfo) - fire.tick).total_seconds() * 1000)
    print(
        f"scheduler fire delay over {len(delays)} ticks: median {statistics.median(delays):.1f} ms, "
        f"max {max(delays):.1f} ms (tick to enqueued_at)"
    )
    print("  measured by: bin/bench scheduler_precision")


if __name__ == "__main__":
    main()
