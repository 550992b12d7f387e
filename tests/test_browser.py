"""A real browser: headless Chromium (Debian's package) driven by Playwright logs in as
staff, opens the statistics chart and the jobs panel, places a cash-on-delivery order
and watches it confirm itself, and saves screenshots."""

import datetime as dt
import os
import re
import shutil
from decimal import Decimal

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from bookstore.management.commands.demo_screenshots import open_page
from inventory.tests.factories import BookFactory
from orders.models import Order
from orders.services import COD_AUTO_CONFIRM_NOTE
from stats.tests.factories import DailyStatisticsFactory
from tests.factories import UserFactory
from tests.helpers import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COD_DELAY = 2  # seconds


def _start_site(processes, **env: str) -> str:
    """A worker, a scheduler and the web process, all with ``env``; the site's URL."""
    port = free_port()
    processes("rqworker", "critical", "high", "default", "low", **env)
    processes("run_scheduler", **env)
    processes("runserver", f"127.0.0.1:{port}", "--noreload", "--insecure", ALLOWED_HOSTS="127.0.0.1", **env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{url}/admin/login/"), timeout=30, what="the web process")
    return url


@pytest.fixture
def site(processes):
    # No first-start catch-up of statistics: the test writes its own rows for those days.
    return _start_site(processes, STATS_CATCH_UP_DAYS="0")


@pytest.fixture
def quick_cod_site(processes):
    """The site with cash-on-delivery orders confirming themselves 2 s after placement."""
    return _start_site(processes, COD_AUTO_CONFIRM_DELAY=str(COD_DELAY))


def _logged_in_page(playwright, site: str):
    browser, page = open_page(playwright)
    _log_in(page, site)
    return browser, page


def _log_in(page, site: str) -> None:
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "manager-password-1")
    page.click("input[type=submit]")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_staff_see_the_revenue_chart_and_the_jobs_panel(site, tmp_path):
    from playwright.sync_api import sync_playwright

    UserFactory(username="manager", password="manager-password-1", is_staff=True, is_superuser=True)
    today = timezone.localdate()
    rows = [
        DailyStatisticsFactory(
            date=today - dt.timedelta(days=n),
            total_orders=300 + (n * 37) % 120,
            total_revenue=Decimal(250_000_000 + (n * 7_919_000) % 90_000_000),
        )
        for n in range(1, 31)
    ]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser, page = _logged_in_page(playwright, site)
        page.wait_for_selector("#jobs-panel")
        wait_until(
            lambda: page.reload() or "s ago" in page.inner_text("#jobs-scheduler"),
            timeout=20,
            what="heartbeat",
        )
        threads = settings.WORKER_CONCURRENCY
        assert page.inner_text("#jobs-workers").strip() == f"1 ({threads} thread{'s' if threads > 1 else ''})"
        page.locator("#jobs-panel").screenshot(path=str(shots / "jobs-panel.png"))

        page.goto(f"{site}/admin/stats/dailystatistics/")
        points = page.eval_on_selector_all(
            "#revenue-svg circle.revenue-point", "els => els.map(e => [e.dataset.date, e.dataset.value])"
        )
        assert points == [
            [r.date.isoformat(), f"{r.total_revenue:.2f}"] for r in sorted(rows, key=lambda r: r.date)
        ]
        orders = page.eval_on_selector_all(
            "#revenue-svg circle.orders-point", "els => els.map(e => Number(e.dataset.value))"
        )
        assert orders == [r.total_orders for r in sorted(rows, key=lambda r: r.date)]
        page.locator("#revenue-chart").screenshot(path=str(shots / "statistics.png"))
        browser.close()
    for name in ("jobs-panel.png", "statistics.png"):
        assert (shots / name).stat().st_size > 5_000
        if os.environ.get("SCREENSHOT_DIR"):
            shutil.copy(shots / name, os.environ["SCREENSHOT_DIR"])


def test_staff_place_a_cod_order_and_see_it_confirm_itself(quick_cod_site, tmp_path):
    from playwright.sync_api import sync_playwright

    site = quick_cod_site
    UserFactory(username="manager", password="manager-password-1", is_staff=True, is_superuser=True)
    customer = UserFactory(username="hoa")
    books = [
        BookFactory(title="Dế Mèn phiêu lưu ký", price=Decimal("86000.00")),
        BookFactory(title="Số đỏ", price=Decimal("74500.50")),
    ]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser, page = _logged_in_page(playwright, site)
        page.wait_for_selector("#jobs-panel")
        page.goto(f"{site}/admin/orders/order/")
        page.click(".object-tools a.addlink")  # "Add order" leads to the Place order page
        page.wait_for_selector("#place-order-form")
        page.fill("#id_user", str(customer.pk))
        page.select_option("#id_payment_method", "cod")
        for row, (book, quantity) in enumerate(zip(books, [2, 3], strict=True)):
            page.click(f"#id_lines-{row}-book + .select2 .select2-selection")
            page.locator(".select2-container--open .select2-search__field").press_sequentially(book.title[:6])
            page.locator(".select2-results__option", has_text=book.title).click()
            page.fill(f"#id_lines-{row}-quantity", str(quantity))
        page.click("input[name=_place]")

        page.wait_for_selector("#order-status")
        # No ORM here: Playwright's event loop runs in this thread. The order's id is in
        # the address of its page.
        match = re.fullmatch(rf"{site}/admin/orders/order/([0-9a-f-]{{36}})/change/", page.url)
        assert match, page.url
        order_id = match[1]
        assert f"Placed Order {order_id[:8]} for hoa, total 395501.50." in page.inner_text(".messagelist")
        assert page.inner_text(".field-total .readonly") == "395501.50"
        assert page.inner_text(".field-payment_method .readonly") == "Cash on delivery"
        items = page.inner_text("#items-group")
        assert "Dế Mèn phiêu lưu ký" in items and "Số đỏ" in items

        def confirmed() -> bool:
            page.reload()
            return page.inner_text("#order-status") == "Confirmed"

        wait_until(confirmed, timeout=COD_DELAY + 30, interval=0.5, what="the COD order to confirm itself")
        assert page.inner_text(".field-status .readonly") == "Confirmed"
        history = page.locator("#status_history-group tr.has_original").all_inner_texts()
        assert len(history) == 2
        assert "Order placed" in history[0]
        assert "Pending" in history[1] and "Confirmed" in history[1] and COD_AUTO_CONFIRM_NOTE in history[1]
        # Confirmed, it may now be processed or cancelled, nothing else.
        offered = page.eval_on_selector_all("button[name=new_status]", "els => els.map(e => e.value)")
        assert offered == ["processing", "cancelled"]
        page.screenshot(path=str(shots / "order-confirmed.png"), full_page=True)
        browser.close()

    order = Order.objects.get()
    assert (str(order.pk), order.status, order.total) == (order_id, "confirmed", Decimal("395501.50"))
    assert list(order.status_history.values_list("old_status", "new_status", "note")) == [
        ("", "pending", "Order placed"),
        ("pending", "confirmed", COD_AUTO_CONFIRM_NOTE),
    ]
    assert (shots / "order-confirmed.png").stat().st_size > 5_000
    if os.environ.get("SCREENSHOT_DIR"):
        shutil.copy(shots / "order-confirmed.png", os.environ["SCREENSHOT_DIR"])
