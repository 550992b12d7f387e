"""LOG_FORMAT=json: one JSON object per line from web, worker and scheduler alike."""

import json
import signal

import pytest

from tests.helpers import run_manage, wait_until
from worker.queues import enqueue_once

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "no output"
    return [json.loads(line) for line in lines]  # every line parses, or the test fails here


def test_worker_and_scheduler_log_json_with_task_and_job_id(redis_conn, processes, child_env):
    worker = processes("rqworker", "critical", "high", "default", "low", LOG_FORMAT="json")
    scheduler = processes("run_scheduler", LOG_FORMAT="json", LOG_LEVEL="DEBUG")  # 5 s fires: DEBUG
    enqueue_once("order:update_status", job_id="json-log-job", order_id="bad-id", new_status="confirmed")
    wait_until(lambda: "json-log-job" in worker.output(), timeout=20, what="the job's log line")
    wait_until(lambda: "fired" in scheduler.output(), timeout=20, what="a fire")
    for process in (worker, scheduler):
        process.send(signal.SIGTERM)
        process.wait(timeout=10)
    entries = json_lines(worker.output())
    job = next(e for e in entries if e.get("job_id") == "json-log-job")
    assert job["task"] == "order:update_status" and job["outcome"] == "failed" and job["level"] == "ERROR"
    assert "not a valid order id" in job["error"] and job["arguments"]["kwargs"]["order_id"] == "bad-id"
    fire = next(e for e in json_lines(scheduler.output()) if "fired" in e["message"])
    assert fire["job_id"].startswith("sched-") and fire["entry"]


def test_web_logs_json_too(child_env):
    result = run_manage(
        "shell", "-c", "import logging; logging.getLogger('django.request').warning('hello %s', 'web')",
        env={**child_env, "LOG_FORMAT": "json"},
    )  # fmt: skip
    entries = json_lines(result.stderr)
    assert entries[-1]["message"] == "hello web" and entries[-1]["logger"] == "django.request"
