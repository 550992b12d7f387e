"""A real browser: headless Chromium (Debian's package) driven by Playwright logs in as
staff, opens the statistics chart and the jobs panel, and saves screenshots."""

import datetime as dt
import os
import shutil
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from stats.tests.factories import DailyStatisticsFactory
from tests.factories import UserFactory
from tests.helpers import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(processes):
    port = free_port()
    processes("rqworker", "critical", "high", "default", "low")
    processes("run_scheduler")
    processes("runserver", f"127.0.0.1:{port}", "--noreload", "--insecure", ALLOWED_HOSTS="127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{url}/admin/login/"), timeout=30, what="the web process")
    return url


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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{site}/admin/login/")
        page.fill("#id_username", "manager")
        page.fill("#id_password", "manager-password-1")
        page.click("input[type=submit]")
        page.wait_for_selector("#jobs-panel")
        wait_until(
            lambda: page.reload() or "s ago" in page.inner_text("#jobs-scheduler"),
            timeout=20,
            what="heartbeat",
        )
        assert page.inner_text("#jobs-workers").strip() == "1"
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
