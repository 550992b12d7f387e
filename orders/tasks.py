"""Order jobs: thin adapters that parse primitive arguments and call one service."""

from rq import get_current_job

from orders.exceptions import ForbiddenStatusChange, InvalidOrderId, OrderNotFound, UnknownOrderStatus
from orders.services import order_update_status, pending_orders_report
from worker.registry import task


@task(
    "order:update_status",
    queue="default",
    max_retries=3,
    timeout=30,
    purpose="Moves an order along the status graph and writes its history row (COD auto-confirm).",
    throws=(InvalidOrderId, OrderNotFound, UnknownOrderStatus, ForbiddenStatusChange),
)
def update_order_status(order_id: str, new_status: str, note: str = "") -> dict:
    change = order_update_status(order_id=order_id, new_status=new_status, note=note)
    return {
        "order_id": change.order_id,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "changed": change.changed,
    }


@task(
    "order:check_pending",
    queue="default",
    max_retries=0,
    timeout=30,
    purpose="Logs one summary line of the pending orders and each newly stale one once. Returns the counts.",
)
def check_pending_orders() -> dict:
    job = get_current_job()
    context = {"task": "order:check_pending", "job_id": job.id if job else None}
    return pending_orders_report(log_context=context).as_dict()
