"""inventory:sync end to end: real ``rqworker`` and ``run_scheduler`` processes against
a real HTTP warehouse on loopback. An answer that is no stock quantity fails the job at
once; a 503 or a trickling server is retried as the registry says, then fails. Only a
good answer changes the stock."""

import pytest

from inventory.models import WarehouseInventory
from inventory.tests.factories import WarehouseInventoryFactory
from inventory.tests.warehouse import Answer, fake_warehouse
from tests.helpers import wait_until
from worker.queues import enqueue, get_queue
from worker.registry import registry

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ANSWERS = {
    "html": Answer(body=b"<html><body>Bad gateway</body></html>", content_type="text/html"),
    "too big": Answer(body={"quantity": 2147483648}),
    "503": Answer(status=503, body={"error": "maintenance"}),
    "trickling": Answer(body={"quantity": 9}, trickle=0.4),
    "good": Answer(body={"quantity": 40}),
}


def test_bad_answers_fail_at_once_silence_is_retried_and_only_a_good_answer_changes_stock(
    processes, redis_conn
):
    retries = registry.get("inventory:sync").max_retries
    with fake_warehouse() as (url, warehouse):
        rows = {kind: WarehouseInventoryFactory(quantity=5) for kind in ANSWERS}
        warehouse.answers = {str(rows[kind].book_id): answer for kind, answer in ANSWERS.items()}
        env = {"WAREHOUSE_GATEWAY": "http", "WAREHOUSE_API_URL": url, "WAREHOUSE_API_TIMEOUT": "1"}
        processes("rqworker", "default", **env)
        processes("run_scheduler")
        jobs = {
            kind: enqueue("inventory:sync", str(row.warehouse_id), str(row.book_id))
            for kind, row in rows.items()
        }
        queue = get_queue("default")

        def status(kind):
            return queue.fetch_job(jobs[kind]).get_status()

        wait_until(
            lambda: all(status(kind) in ("failed", "finished") for kind in jobs),
            timeout=90,
            what="every sync job to end",
        )
        attempts = {kind: warehouse.requests_for(str(row.book_id)) for kind, row in rows.items()}

    assert {kind: status(kind) for kind in jobs} == {
        "html": "failed",
        "too big": "failed",
        "503": "failed",
        "trickling": "failed",
        "good": "finished",
    }
    assert attempts == {"html": 1, "too big": 1, "503": 1 + retries, "trickling": 1 + retries, "good": 1}
    failures = {
        kind: queue.fetch_job(jobs[kind]).latest_result().exc_string for kind in jobs if kind != "good"
    }
    assert "InvalidWarehouseAnswer" in failures["html"] and "<html><body>Bad gateway" in failures["html"]
    assert "InvalidWarehouseAnswer" in failures["too big"] and "2147483648" in failures["too big"]
    assert "WarehouseUnavailable" in failures["503"] and "HTTP 503" in failures["503"]
    assert "WarehouseUnavailable" in failures["trickling"] and "within 1 s" in failures["trickling"]
    quantities = dict(
        WarehouseInventory.objects.filter(pk__in=[row.pk for row in rows.values()]).values_list(
            "pk", "quantity"
        )
    )
    assert {kind: quantities[row.pk] for kind, row in rows.items()} == {
        "html": 5,
        "too big": 5,
        "503": 5,
        "trickling": 5,
        "good": 40,
    }
