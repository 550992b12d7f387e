"""The README's screenshots, taken from the running demo store (bin/run), not from test
data: headless Chromium (Debian's package) driven by Playwright logs in as the demo
staff user and photographs the statistics chart, the Background jobs panel and a
cash-on-delivery order that confirmed itself.

    bin/run                                  # in one terminal; wait for a COD order to confirm
    bin/manage demo_screenshots docs/screenshots
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bookstore.demo import DEMO_STAFF_PASSWORD, DEMO_STAFF_USERNAME
from orders.services import COD_AUTO_CONFIRM_NOTE

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


def open_page(playwright):
    """Debian's Chromium, headless, flags for a machine without a network of its own (the
    browser tests use it too); returns the browser and a 1280x900 page."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    return browser, browser.new_page(viewport={"width": 1280, "height": 900})


class Command(BaseCommand):
    help = "Screenshots of the running demo (bin/run) for the README."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="where the PNG files go (docs/screenshots)")
        parser.add_argument("--url", default="", help="the demo's address (default: from BIND and WEB_PORT)")

    def handle(self, *args, folder: Path, url: str, **options):
        from orders.models import OrderStatusHistory

        if not settings.DEBUG:
            raise CommandError("run it against the demo (bin/manage demo_screenshots ...), not production")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise CommandError("playwright is not installed: `make lint` installs the dev tools") from None
        confirmed = (
            OrderStatusHistory.objects.filter(note=COD_AUTO_CONFIRM_NOTE).order_by("-created_at").first()
        )
        if confirmed is None:
            raise CommandError(
                "no COD order has confirmed itself yet: wait a minute or two after bin/run starts"
            )

        url = url or f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}"
        folder.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser, page = open_page(playwright)
            page.goto(f"{url}/admin/login/")
            page.fill("#id_username", DEMO_STAFF_USERNAME)
            page.fill("#id_password", DEMO_STAFF_PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#jobs-panel")
            page.locator("#jobs-panel").screenshot(path=str(folder / "jobs-panel.png"))
            page.goto(f"{url}/admin/stats/dailystatistics/")
            page.locator("#revenue-chart").screenshot(path=str(folder / "statistics.png"))
            page.goto(f"{url}/admin/orders/order/{confirmed.order_id}/change/")
            page.screenshot(path=str(folder / "order-confirmed.png"), full_page=True)
            browser.close()
        for name in ("jobs-panel.png", "statistics.png", "order-confirmed.png"):
            self.stdout.write(f"{folder / name}: {(folder / name).stat().st_size:,} bytes")
