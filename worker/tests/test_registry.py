import random
from collections import Counter

import pytest
from django.core.management import call_command

from worker.dequeue import weighted_order
from worker.registry import Task, TaskRegistry, registry

DESIGN_TABLE = {
    # name: (function, queue, max retries, timeout) — docs/design.md, Tasks
    "cart:cleanup": ("carts.tasks.cleanup_expired_carts", "low", 1, 60),
    "order:update_status": ("orders.tasks.update_order_status", "default", 3, 30),
    "order:check_pending": ("orders.tasks.check_pending_orders", "default", 0, 30),
    "stats:daily": ("stats.tasks.generate_daily_stats", "low", 5, 300),
    "inventory:sync": ("inventory.tasks.sync_inventory", "default", 3, 120),
    "inventory:check_low_stock": ("inventory.tasks.check_low_stock", "default", 1, 120),
    "inventory:low_stock_alert": ("inventory.tasks.send_low_stock_alert", "default", 2, 30),
}


def test_the_registry_is_designs_task_table():
    ours = {
        t.name: (t.path, t.queue, t.max_retries, t.timeout)
        for t in registry
        if not t.name.startswith("test:")
    }
    assert ours == DESIGN_TABLE


def test_retries_back_off_1_2_4_8_16_seconds():
    assert registry.get("stats:daily").retry().intervals == [1, 2, 4, 8, 16]
    assert registry.get("order:update_status").retry().intervals == [1, 2, 4]
    assert registry.get("order:check_pending").retry() is None


def test_a_task_on_an_unknown_queue_or_a_second_function_is_refused():
    local = TaskRegistry()
    with pytest.raises(ValueError, match="unknown queue 'urgent'"):
        local.register(Task("x:y", print, "urgent", 0, 1, ""))
    local.register(Task("x:y", print, "low", 0, 1, ""))
    with pytest.raises(ValueError, match="already registered"):
        local.register(Task("x:y", len, "low", 0, 1, ""))


def test_an_unknown_task_name_says_which_exist():
    with pytest.raises(LookupError, match="no task named 'order:ship'; known tasks: .*order:update_status"):
        registry.get("order:ship")


def test_describe_tasks_prints_the_table(capsys):
    call_command("describe_tasks", "--markdown")
    out = capsys.readouterr().out
    for name, (path, queue, retries, timeout) in DESIGN_TABLE.items():
        assert f"| `{name}` | `{path}` | {queue} | {retries} | {timeout} s |" in out


def test_weighted_order_puts_each_queue_first_in_proportion_to_its_weight():
    rng = random.Random(7)
    weights = {"critical": 10, "high": 5, "default": 3, "low": 1}
    firsts = Counter(weighted_order(list(weights), weights, rng)[0] for _ in range(19_000))
    for name, weight in weights.items():
        assert abs(firsts[name] - weight * 1000) < 0.1 * weight * 1000 + 50, firsts
