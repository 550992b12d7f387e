import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from inventory.tests.factories import BookFactory
from orders.services import order_update_status
from orders.tests.factories import OrderFactory, OrderItemFactory
from stats.exceptions import FutureStatsDate, InvalidRefreshDays, InvalidStatsDate
from stats.models import DailyStatistics
from stats.services import parse_stats_date, stats_generate_daily, stats_generate_nightly
from stats.tasks import generate_daily_stats
from stats.tests.factories import DailyStatisticsFactory
from tests.factories import UserFactory
from worker.queues import get_queue

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 20)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_default_timezone())


def order(
    *, at: dt.datetime, items: list[tuple], status: str = "pending", method: str = "cod", user=None, **money
):
    """An order with items (book, quantity, unit price) and money that adds up."""
    subtotal = sum((Decimal(price) * quantity for _, quantity, price in items), Decimal(0))
    discount = Decimal(money.get("discount", "0"))
    shipping = Decimal(money.get("shipping", "0"))
    created = OrderFactory(
        created_at=at,
        payment_method=method,
        subtotal=subtotal,
        discount_amount=discount,
        shipping_fee=shipping,
        **({"user": user} if user else {}),
    )
    for book, quantity, price in items:
        OrderItemFactory(order=created, book=book, quantity=quantity, unit_price=Decimal(price))
    path = {
        "cancelled": ["cancelled"],
        "completed": ["confirmed", "processing", "shipping", "delivered", "completed"],
    }
    for step in path.get(status, []):
        order_update_status(order_id=str(created.id), new_status=step)
    return created


def test_each_order_counts_once_however_many_items_and_cancelled_ones_are_out_of_the_money():
    a, b, c = BookFactory(title="Alpha"), BookFactory(title="Beta"), BookFactory(title="Gamma")
    alice, bob = UserFactory(), UserFactory()
    order(at=local(DAY, 9), items=[(a, 2, "100.00"), (b, 1, "50.00"), (c, 3, "10.00")],
          discount="20.00", shipping="15.00", status="completed", method="cod", user=alice)  # fmt: skip
    order(at=local(DAY, 10), items=[(a, 1, "100.00")], shipping="5.00", method="vnpay", user=alice)
    order(
        at=local(DAY, 11),
        items=[(b, 4, "50.00"), (c, 1, "10.00")],
        status="cancelled",
        method="momo",
        user=bob,
    )
    row = stats_generate_daily(day=DAY)

    assert (row.total_orders, row.completed_orders, row.cancelled_orders) == (3, 1, 1)
    # Money of the two orders that are not cancelled: 280 - 20 + 15 = 275 and 100 + 5 = 105.
    assert row.total_revenue == Decimal("380.00")
    assert row.total_discount == Decimal("20.00")
    assert row.total_shipping_fee == Decimal("20.00")
    assert row.net_revenue == Decimal("360.00")  # (280 - 20) + (100 - 0)
    assert row.total_books_sold == 7  # 2 + 1 + 3 + 1, the cancelled order's 5 are out
    assert (row.top_selling_book, row.top_selling_book_count) == (a, 3)
    assert (row.cod_orders, row.vnpay_orders, row.momo_orders) == (1, 1, 1)
    assert row.active_users == 2


def test_an_order_at_00_30_local_belongs_to_that_local_day_not_the_utc_one():
    book = BookFactory()
    early = local(DAY, 0, 30)  # 17:30 UTC the day before
    assert early.astimezone(dt.UTC).date() == DAY - dt.timedelta(days=1)
    order(at=early, items=[(book, 1, "99.00")])
    order(at=local(DAY, 23, 59), items=[(book, 1, "1.00")])
    order(at=local(DAY + dt.timedelta(days=1), 0, 0), items=[(book, 1, "5.00")])  # next day's midnight
    row = stats_generate_daily(day=DAY)
    assert row.total_orders == 2
    assert row.total_revenue == Decimal("100.00")
    assert stats_generate_daily(day=DAY - dt.timedelta(days=1)).total_orders == 0


def test_a_tie_for_top_book_goes_to_the_lowest_title_then_id():
    zeta, alpha = BookFactory(title="Zeta"), BookFactory(title="Alpha")
    order(at=local(DAY, 9), items=[(zeta, 2, "1.00"), (alpha, 2, "1.00")])
    row = stats_generate_daily(day=DAY)
    assert (row.top_selling_book, row.top_selling_book_count) == (alpha, 2)

    twin_a, twin_b = sorted([BookFactory(title="Twin"), BookFactory(title="Twin")], key=lambda b: str(b.id))
    order(at=local(DAY + dt.timedelta(days=1), 9), items=[(twin_b, 1, "1.00"), (twin_a, 1, "1.00")])
    assert stats_generate_daily(day=DAY + dt.timedelta(days=1)).top_selling_book == twin_a


def test_an_empty_day_gets_a_row_of_zeros():
    row = stats_generate_daily(day=DAY)
    assert row.total_orders == row.total_books_sold == row.new_users == row.active_users == 0
    assert row.total_revenue == row.net_revenue == Decimal("0.00")
    assert row.top_selling_book is None and row.top_selling_book_count == 0


def test_new_users_are_those_who_joined_that_local_day():
    UserFactory(date_joined=local(DAY, 0, 5))
    UserFactory(date_joined=local(DAY, 23, 55))
    UserFactory(date_joined=local(DAY - dt.timedelta(days=1), 23, 59))
    assert stats_generate_daily(day=DAY).new_users == 2


def test_a_rerun_rewrites_the_same_row():
    book = BookFactory()
    stats_generate_daily(day=DAY)
    order(at=local(DAY, 12), items=[(book, 1, "10.00")])
    first_id = DailyStatistics.objects.get(date=DAY).id
    assert generate_daily_stats(DAY.isoformat())["total_orders"] == 1
    assert DailyStatistics.objects.filter(date=DAY).count() == 1
    assert DailyStatistics.objects.get(date=DAY).id == first_id


def test_no_date_means_yesterday_in_the_store_time_zone():
    assert parse_stats_date(None) == timezone.localdate() - dt.timedelta(days=1)
    generate_daily_stats()
    assert DailyStatistics.objects.filter(date=timezone.localdate() - dt.timedelta(days=1)).exists()


@pytest.mark.parametrize(
    "value", ["2026-13-01", "yesterday", "20261120", "2026-W47-1", "2026-11-20T00:00", 20261120]
)
def test_a_bad_date_is_a_permanent_error_and_writes_nothing(value):
    with pytest.raises(InvalidStatsDate, match="expected YYYY-MM-DD"):
        generate_daily_stats(value)
    assert DailyStatistics.objects.count() == 0


def test_a_day_that_has_not_begun_is_refused():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(FutureStatsDate, match="has not begun"):
        generate_daily_stats(tomorrow.isoformat())


@pytest.mark.django_db(transaction=True)
def test_two_workers_computing_one_date_at_once_leave_one_right_row():
    assert connection.vendor == "postgresql"
    book = BookFactory()
    for hour in range(8, 20):
        order(at=local(DAY, hour), items=[(book, 2, "10.00")])
    barrier = threading.Barrier(4)
    errors = []

    def run():
        try:
            barrier.wait()
            stats_generate_daily(day=DAY)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert DailyStatistics.objects.filter(date=DAY).count() == 1
    row = DailyStatistics.objects.get(date=DAY)
    assert (row.total_orders, row.total_books_sold, row.total_revenue) == (12, 24, Decimal("240.00"))


def test_backfill_computes_each_day_inline(capsys):
    book = BookFactory()
    order(at=local(DAY, 12), items=[(book, 1, "10.00")])
    call_command("backfill_daily_stats", "--from", "2026-11-18", "--to", "2026-11-20", verbosity=0)
    assert list(DailyStatistics.objects.order_by("date").values_list("date", "total_orders")) == [
        (dt.date(2026, 11, 18), 0),
        (dt.date(2026, 11, 19), 0),
        (DAY, 1),
    ]
    assert "3 days" in capsys.readouterr().out


def test_backfill_of_one_day_says_day(capsys, redis_conn, django_capture_on_commit_callbacks):
    call_command("backfill_daily_stats", "--from", "2026-11-20", "--to", "2026-11-20", verbosity=0)
    assert "Computed the statistics of 1 day, 2026-11-20 to 2026-11-20." in capsys.readouterr().out
    with django_capture_on_commit_callbacks(execute=True):
        call_command("backfill_daily_stats", "--from", "2026-11-20", "--to", "2026-11-20", "--enqueue")
    assert "Enqueued 1 stats:daily job, 2026-11-20" in capsys.readouterr().out


def test_backfill_can_enqueue_one_job_per_day(redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "backfill_daily_stats", "--from", "2026-11-01", "--to", "2026-11-05", "--enqueue", verbosity=0
        )
    jobs = get_queue("low").get_jobs()
    assert sorted(job.kwargs["date"] for job in jobs) == [f"2026-11-0{n}" for n in range(1, 6)]
    assert DailyStatistics.objects.count() == 0


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2026-11-05", "2026-11-01", "is after"), ("2026-11-31", "2026-12-01", "expected YYYY-MM-DD")],
)
def test_backfill_refuses_bad_ranges(start, end, message):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_daily_stats", "--from", start, "--to", end)


def test_a_days_sums_may_pass_ten_billion_dong_to_the_cent():
    book = BookFactory()
    for _ in range(3):
        order(at=local(DAY, 10), items=[(book, 1, "9000000000.99")])
    row = stats_generate_daily(day=DAY)
    assert row.total_revenue == Decimal("27000000002.97")
    row.refresh_from_db()
    assert row.net_revenue == Decimal("27000000002.97")


# --- the nightly run: yesterday and the STATS_REFRESH_DAYS days before ----------------


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


def test_a_cancellation_three_days_later_is_reflected_after_the_next_nightly_run():
    book = BookFactory()
    day = days_ago(4)
    kept = order(at=local(day, 10), items=[(book, 1, "100.00")])
    cancelled_later = order(at=local(day, 11), items=[(book, 2, "50.00")], shipping="5.00")
    # The night after: both orders still pending, both in the money.
    first = generate_daily_stats(day.isoformat(), refresh_days=14)
    assert first["date"] == day.isoformat() and first["total_revenue"] == "205.00"
    before = DailyStatistics.objects.get(date=day)
    assert (before.total_revenue, before.cancelled_orders, before.total_books_sold) == (
        Decimal("205.00"),
        0,
        3,
    )

    order_update_status(order_id=str(cancelled_later.id), new_status="cancelled")  # three days later
    order_update_status(order_id=str(kept.id), new_status="confirmed")
    result = generate_daily_stats(days_ago(1).isoformat(), refresh_days=14)  # the next nightly run
    assert result == {
        "date": days_ago(1).isoformat(),
        "total_orders": 0,
        "total_revenue": "0.00",
        "refreshed_from": days_ago(15).isoformat(),
        "refreshed_days": 14,
    }
    after = DailyStatistics.objects.get(date=day)
    assert (after.total_revenue, after.cancelled_orders, after.total_books_sold) == (Decimal("100.00"), 1, 1)
    assert after.id == before.id and after.computed_at > before.computed_at


def test_the_nightly_run_recomputes_the_window_and_leaves_older_rows_alone():
    book = BookFactory()
    old_stamp = timezone.now() - dt.timedelta(days=30)
    outside = DailyStatisticsFactory(date=days_ago(16), total_orders=99, computed_at=old_stamp)
    edge = DailyStatisticsFactory(date=days_ago(15), total_orders=99, computed_at=old_stamp)
    order(at=local(days_ago(16), 12), items=[(book, 1, "10.00")])  # would change row 16 if touched
    before = timezone.now()
    rows = stats_generate_nightly(day=days_ago(1), refresh_days=14)
    assert [r.date for r in rows] == [days_ago(n) for n in range(15, 0, -1)]
    assert DailyStatistics.objects.count() == 16  # the 15 days of the window, and the older row
    assert {r.computed_at for r in rows} == {rows[0].computed_at} and rows[0].computed_at >= before
    edge.refresh_from_db()
    assert (edge.total_orders, edge.computed_at >= before) == (0, True)
    outside.refresh_from_db()
    assert (outside.total_orders, outside.computed_at) == (99, old_stamp)


def test_a_run_for_one_date_touches_only_that_date():
    DailyStatisticsFactory(date=days_ago(3), total_orders=7)
    result = generate_daily_stats(days_ago(2).isoformat())
    assert (result["refreshed_from"], result["refreshed_days"]) == (days_ago(2).isoformat(), 0)
    assert list(DailyStatistics.objects.order_by("date").values_list("date", "total_orders")) == [
        (days_ago(3), 7),
        (days_ago(2), 0),
    ]


def test_computed_at_moves_on_every_recomputation():
    first = stats_generate_daily(day=DAY).computed_at
    second = stats_generate_daily(day=DAY).computed_at
    third = stats_generate_nightly(day=DAY + dt.timedelta(days=1), refresh_days=1)[0].computed_at
    assert first < second < third


@pytest.mark.parametrize("value", [-1, "x", 1.5, True, "-3"])
def test_a_bad_refresh_window_is_a_permanent_error_and_writes_nothing(value):
    with pytest.raises(InvalidRefreshDays, match="refresh_days"):
        generate_daily_stats(DAY.isoformat(), refresh_days=value)
    assert DailyStatistics.objects.count() == 0
