"""gunicorn settings, used by every deploy file:

    gunicorn -c python:bookstore.gunicorn_conf bookstore.wsgi --bind 0.0.0.0:8000 --workers 3

Metrics that add up across processes: django-prometheus counts requests and queries in
each gunicorn worker's memory, so without this a scrape reads whichever worker answered
(counters jump back and forth: false resets, rates several times too high). In
prometheus_client's multiprocess mode every worker writes its samples to files under
``PROMETHEUS_MULTIPROC_DIR`` and /metrics adds them up (bookstore/views.py), the samples
of exited workers included, so a restarted worker resets nothing.

``PROMETHEUS_MULTIPROC_DIR`` may be given (a directory of its own for this gunicorn);
otherwise a fresh one is made under the temporary directory and removed at exit.
"""

import os
import shutil
import tempfile
from pathlib import Path

timeout = 30
graceful_timeout = 30
# Recycle a worker now and then (memory); its counts live on in the metrics files.
max_requests = 10_000
max_requests_jitter = 1_000

_made_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _made_dir:
    # Set before any worker imports prometheus_client (workers load the app after fork).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bookstore-metrics-")


def on_starting(server):
    """A new gunicorn starts from zero: samples of an earlier run are removed."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    server.log.info("metrics: multiprocess samples in %s", directory)


def child_exit(server, worker):
    """A gone worker's live gauges stop counting; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
