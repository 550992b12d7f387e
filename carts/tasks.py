"""Cart jobs: thin adapters over services."""

from carts.services import carts_delete_expired
from worker.registry import task


@task(
    "cart:cleanup",
    queue="low",
    max_retries=1,
    timeout=60,
    max_concurrency=1,
    purpose="Deletes expired carts and their items in bounded batches. Returns the number deleted.",
)
def cleanup_expired_carts() -> dict:
    return {"deleted": carts_delete_expired()}
