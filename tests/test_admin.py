"""The staff's admin: every page renders for staff, and nothing for strangers."""

import pytest
from django.contrib import admin
from django.urls import reverse

from bookstore.demo import DemoSize, demo_seed
from orders.models import Order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    demo_seed(size=DemoSize(books=20, users=30, carts=40, orders=200))
    staff = UserFactory(username="admin-test", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def _changelist_urls():
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label in {"carts", "orders", "inventory", "stats"}
    ]


def test_every_changelist_renders_for_staff(staff_client):
    urls = _changelist_urls()
    assert len(urls) >= 8
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("admin:carts_cart_changelist", "expired=yes"),
        ("admin:inventory_warehouseinventory_changelist", "level=low"),
        ("admin:inventory_lowstockalert_changelist", "state=open"),
        ("admin:orders_order_changelist", "status=pending&payment_method=cod"),
        ("admin:orders_order_changelist", "q=customer0001"),
    ],
)
def test_filters_and_search_render(staff_client, url, query):
    assert staff_client.get(f"{reverse(url)}?{query}").status_code == 200


def test_the_order_page_shows_its_items_and_status_history(staff_client):
    order = Order.objects.exclude(status="pending").first()
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "order status history" in body.lower()
    history = list(order.status_history.all())
    assert len(history) >= 2  # placed, then at least the change to its status now
    for row in history:
        assert row.get_new_status_display() in body


def test_the_orders_list_shows_demo_orders(staff_client):
    response = staff_client.get(reverse("admin:orders_order_changelist"))
    assert str(Order.objects.order_by("-created_at").first().id)[:8] in response.content.decode()


def test_statistics_are_read_only(staff_client):
    assert staff_client.get(reverse("admin:stats_dailystatistics_add")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for url in [reverse("admin:index"), *_changelist_urls()]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_a_customer_without_staff_rights_cannot_enter(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_sync_from_warehouse_enqueues_one_job_per_selected_row_in_one_batch(
    staff_client, redis_conn, django_capture_on_commit_callbacks
):
    from inventory.models import WarehouseInventory
    from worker.queues import get_queue

    rows = list(WarehouseInventory.objects.order_by("id")[:4])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            reverse("admin:inventory_warehouseinventory_changelist"),
            {"action": "sync_from_warehouse", "_selected_action": [r.pk for r in rows]},
            follow=True,
        )
    assert "Enqueued 4 warehouse sync job(s)" in response.content.decode()
    assert len(callbacks) == 1  # one batch
    jobs = get_queue("default").get_jobs()
    assert sorted((j.args[0], j.args[1]) for j in jobs) == sorted(
        (str(r.warehouse_id), str(r.book_id)) for r in rows
    )


def test_staff_can_resolve_alerts(staff_client):
    from inventory.models import LowStockAlert
    from inventory.tests.factories import LowStockAlertFactory

    alerts = [LowStockAlertFactory() for _ in range(2)]
    response = staff_client.post(
        reverse("admin:inventory_lowstockalert_changelist"),
        {"action": "resolve", "_selected_action": [a.pk for a in alerts]},
        follow=True,
    )
    assert "Resolved 2 alert(s)" in response.content.decode()
    assert not LowStockAlert.objects.filter(resolved_at__isnull=True).exists()


def test_the_admin_index_shows_the_background_jobs_panel(staff_client, redis_conn):
    body = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="jobs-panel"' in body and 'href="/django-rq/"' in body
    assert 'data-queue="critical"' in body and 'data-queue="low"' in body
    for task in ("cart:cleanup", "stats:daily", "inventory:check_low_stock", "order:check_pending"):
        assert task in body
    assert "never" in body  # no scheduler has run in this test


def test_the_statistics_page_charts_the_rows_of_the_window(staff_client):
    import datetime as dt
    import re
    from decimal import Decimal

    from django.utils import timezone

    from stats.tests.factories import DailyStatisticsFactory

    today = timezone.localdate()
    rows = [
        DailyStatisticsFactory(
            date=today - dt.timedelta(days=n), total_revenue=Decimal(1000 * n), total_orders=n
        )
        for n in (1, 2, 3, 45)
    ]
    body = staff_client.get(reverse("admin:stats_dailystatistics_changelist")).content.decode()
    points = dict(re.findall(r'class="revenue-point"[^>]*data-date="([\d-]+)" data-value="([\d.]+)"', body))
    assert points == {r.date.isoformat(): f"{r.total_revenue:.2f}" for r in rows[:3]}
    body90 = staff_client.get(reverse("admin:stats_dailystatistics_changelist") + "?days=90").content.decode()
    assert len(re.findall(r'class="revenue-point"', body90)) == 4
    assert 'id="top-books"' in body


def test_the_queue_dashboard_shows_run_scheduler_its_leader_and_fires(staff_client, redis_conn):
    """django-rq's page says its "cron schedulers" are rq's own, and shows ours: the
    leading run_scheduler, each entry's last tick fired and its next one."""
    import time

    from worker.keys import SCHEDULER_HEARTBEAT, SCHEDULER_LAST_FIRE

    redis_conn.hset(SCHEDULER_HEARTBEAT, mapping={"at": time.time() - 3, "leader": "web1-4242-abc123"})
    redis_conn.hset(SCHEDULER_LAST_FIRE, "stats-daily", 1764525600)  # 2025-12-01 01:00 +07
    body = staff_client.get("/django-rq/").content.decode()
    assert 'id="scheduling-note"' in body and "rq's own cron scheduler" in body
    assert 'id="jobs-panel"' in body
    assert "web1-4242-abc123 leads" in body
    stats_row = next(
        row for row in body.split('<tr class="jobs-entry">') if row.startswith("<th>stats:daily")
    )
    assert "2025-12-01 01:00:00 ·" in stats_row
    cleanup_row = next(
        row for row in body.split('<tr class="jobs-entry">') if row.startswith("<th>cart:cleanup")
    )
    assert "<td>never ·" in cleanup_row
