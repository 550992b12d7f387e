"""Celery app of `bin/bench peers`: bench/peer_jobs.py's jobs, on Redis database 1.

    python -m celery -A bench.peer_celery worker -P solo ...   (started by bench/peers.py)

Results are not stored (task_ignore_result, Celery's default without a result backend).
Celery's own Django fix-up (on because DJANGO_SETTINGS_MODULE is set) closes the
database connection before and after every task unless CELERY_DB_REUSE_MAX is set: set
to 1,000 here, so Celery keeps its connection like the others do (ours: CONN_MAX_AGE=60;
Dramatiq and Huey: one connection per thread, kept), rather than paying a new PostgreSQL
connection per job.
"""

from celery import Celery

import bench.common  # noqa: F401  (django.setup())
from bench import peer_jobs

app = Celery("bench_peers", broker=peer_jobs.redis_url(peer_jobs.CELERY_DB))
app.conf.update(
    task_ignore_result=True,
    task_default_queue="bench-peers",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    accept_content=["json"],
)
app.conf["CELERY_DB_REUSE_MAX"] = 1_000  # read by celery.fixups.django (an old-style key)

noop = app.task(name="peers.noop")(peer_jobs.noop)
update_status = app.task(name="peers.update_status")(peer_jobs.update_status)
io = app.task(name="peers.io")(peer_jobs.io)
latency = app.task(name="peers.latency")(peer_jobs.latency)
warmup = app.task(name="peers.warmup")(peer_jobs.warmup)
