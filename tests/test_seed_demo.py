from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Sum
from django.utils import timezone

from bookstore.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_USERNAME, DemoSize, demo_seed
from carts.models import Cart
from inventory.models import Book, Warehouse, WarehouseInventory
from orders.models import Order, OrderItem, OrderStatus, OrderStatusHistory, PaymentMethod

pytestmark = pytest.mark.django_db


def _store_counts():
    return (
        Order.objects.count(),
        Book.objects.count(),
        Cart.objects.count(),
        get_user_model().objects.count(),
    )


def test_seed_demo_makes_a_believable_store_once(capsys, client, settings):
    settings.DEBUG = True  # the demo's setting (bin/run)
    call_command("seed_demo", verbosity=0)
    out = capsys.readouterr().out
    size = DemoSize.for_scale(1)
    now = timezone.now()

    assert Book.objects.count() == size.books
    assert Warehouse.objects.count() == 5
    assert WarehouseInventory.objects.count() == size.stock_rows
    low = WarehouseInventory.objects.low().count()
    assert 0.05 * size.stock_rows < low < 0.2 * size.stock_rows

    assert Cart.objects.count() == size.carts
    assert Cart.objects.expired(now=now).count() == size.carts // 2
    assert not Cart.objects.filter(items__isnull=True).exists()

    assert Order.objects.count() == size.orders
    assert set(Order.objects.values_list("status", flat=True).distinct()) == set(OrderStatus.values)
    assert set(Order.objects.values_list("payment_method", flat=True).distinct()) == set(PaymentMethod.values)
    oldest = Order.objects.order_by("created_at").first().created_at
    newest = Order.objects.order_by("created_at").last().created_at
    assert now - timedelta(days=30, minutes=1) <= oldest < now - timedelta(days=25)
    assert now - timedelta(days=1) < newest <= now
    item_counts = list(Order.objects.annotate(n=Count("items")).values_list("n", flat=True))
    assert min(item_counts) >= 1 and max(item_counts) > 1

    # The demo staff login is printed and works.
    assert f"{DEMO_STAFF_USERNAME} / {DEMO_STAFF_PASSWORD}" in out
    assert client.login(username=DEMO_STAFF_USERNAME, password=DEMO_STAFF_PASSWORD)

    # A second run finds the demo and adds nothing.
    before = _store_counts()
    call_command("seed_demo", verbosity=0)
    assert "already there" in capsys.readouterr().out
    assert _store_counts() == before


@pytest.fixture
def small_store():
    demo_seed(size=DemoSize(books=30, users=40, carts=50, orders=300))


def test_seeded_money_adds_up_to_the_cent(small_store):
    subtotals = dict(Order.objects.values_list("id", "subtotal"))
    per_order = OrderItem.objects.values("order").annotate(sum=Sum(F("unit_price") * F("quantity")))
    assert len(per_order) == len(subtotals) == 300
    assert all(subtotals[row["order"]] == row["sum"] for row in per_order)
    assert not Order.objects.exclude(total=F("subtotal") - F("discount_amount") + F("shipping_fee")).exists()


def test_every_seeded_order_has_a_history_ending_in_its_status(small_store):
    last_status = {}
    rows = OrderStatusHistory.objects.order_by("order", "created_at").values_list("order", "new_status")
    for order_id, new_status in rows:
        last_status[order_id] = new_status
    assert last_status == dict(Order.objects.values_list("id", "status"))


def test_with_debug_off_seed_demo_refuses_unless_told_and_never_makes_the_demo_login(settings, capsys):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="looks like production"):
        call_command("seed_demo", verbosity=0)
    assert _store_counts() == (0, 0, 0, 0)
    call_command("seed_demo", "--i-know-this-is-production", verbosity=0)
    assert Order.objects.count() == DemoSize.for_scale(1).orders
    assert not get_user_model().objects.filter(username=DEMO_STAFF_USERNAME).exists()
    assert DEMO_STAFF_PASSWORD not in capsys.readouterr().out


def test_seed_demo_refuses_a_scale_below_one():
    with pytest.raises(CommandError, match="--scale must be at least 1"):
        call_command("seed_demo", scale=0, verbosity=0)
    assert _store_counts() == (0, 0, 0, 0)


def test_the_seed_leaves_the_jobs_its_past_implies(settings):
    """Pending COD orders are the ones placed within COD_AUTO_CONFIRM_DELAY, each with its
    confirmation due then; every seeded day has its statistics job, under the scheduler's
    ids; all written with the seed (the outbox), to reach Redis with its commit."""
    from worker.models import OutboxJob

    settings.COD_AUTO_CONFIRM_DELAY = 120
    demo_seed(size=DemoSize(books=30, users=40, carts=50, orders=300))
    now = timezone.now()
    pending_cod = Order.objects.filter(status=OrderStatus.PENDING, payment_method=PaymentMethod.COD)
    assert pending_cod.count() == 5
    assert not pending_cod.filter(created_at__lt=now - timedelta(seconds=120)).exists()
    confirmations = {row.job_id: row for row in OutboxJob.objects.filter(job_id__startswith="cod-confirm-")}
    assert set(confirmations) == {f"cod-confirm-{order.id}" for order in pending_cod}
    for order in pending_cod:
        row = confirmations[f"cod-confirm-{order.id}"]
        assert row.task == "order:update_status" and row.args[:2] == [str(order.id), "confirmed"]
        assert row.run_at == order.created_at + timedelta(seconds=120)
        assert now < row.run_at <= now + timedelta(seconds=60)  # in the demo's first minute
    # Pending orders that went stale in the store's past were reported then: the demo's
    # first check does not log a hundred of them at once.
    stale = Order.objects.filter(status=OrderStatus.PENDING, created_at__lt=now - timedelta(days=1))
    assert stale.exists() and not stale.filter(stale_reported_at__isnull=True).exists()
    stats_days = sorted(
        row.kwargs["date"]
        for row in OutboxJob.objects.filter(task="stats:daily", job_id__startswith="sched-")
    )
    # 30 consecutive days up to the last one the nightly run has done (yesterday, or the
    # day before between midnight and its 01:00 run).
    last = date.fromisoformat(stats_days[-1])
    assert stats_days == [(last - timedelta(days=n)).isoformat() for n in range(29, -1, -1)]
    assert timezone.localdate() - timedelta(days=2) <= last < timezone.localdate()
