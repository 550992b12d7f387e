from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bookstore.demo import (
    DEMO_STAFF_PASSWORD,
    DEMO_STAFF_USERNAME,
    DemoSize,
    demo_is_seeded,
    demo_seed,
    demo_staff_ensure,
    demo_total_rows,
)

NOT_IN_PRODUCTION = (
    "DEBUG is off, so this looks like production: seed_demo would fill the store with fake "
    "customers and orders. Run it with DEBUG=true for a demo, or add "
    "--i-know-this-is-production (which still creates no demo staff login)."
)


class Command(BaseCommand):
    help = (
        "Fills the store with demo data (books, warehouses, stock with some rows low, customers, "
        "carts with some expired, 30 days of orders) and the demo staff user. Runs once: a second "
        "run finds the demo and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=int,
            default=1,
            help="size multiplier; 100 makes about a million orders (default 1)",
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed, for a reproducible store")
        parser.add_argument(
            "--i-know-this-is-production",
            action="store_true",
            help="seed even with DEBUG off (fake customers and orders; never the demo staff login)",
        )

    def handle(self, *args, scale: int, seed: int, i_know_this_is_production: bool, **options):
        if scale < 1:
            raise CommandError(f"--scale must be at least 1, not {scale}")
        if not settings.DEBUG and not i_know_this_is_production:
            raise CommandError(NOT_IN_PRODUCTION)
        staff = settings.DEBUG  # a known password is for a laptop's demo only
        if demo_is_seeded():
            if staff:
                demo_staff_ensure()
            self.stdout.write(self.style.WARNING("The demo is already there; nothing was added."))
            self._say_login(staff)
            return
        size = DemoSize.for_scale(scale)
        self.stdout.write(
            f"Seeding the demo at scale {scale}: {size.books:,} books, {size.stock_rows:,} stock rows, "
            f"{size.users:,} customers, {size.carts:,} carts, {size.orders:,} orders"
        )
        with tqdm(total=demo_total_rows(scale), unit="rows", disable=options["verbosity"] < 1) as bar:
            result = demo_seed(scale=scale, seed=seed, progress=bar.update, staff=staff)
        if not result.seeded:
            self.stdout.write(self.style.WARNING("The demo is already there; nothing was added."))
        else:
            for name, count in result.counts.items():
                self.stdout.write(f"  {name}: {count:,}")
            self.stdout.write(self.style.SUCCESS("Demo seeded."))
        self._say_login(staff)

    def _say_login(self, staff: bool) -> None:
        if staff:
            self.stdout.write(f"Staff login: {DEMO_STAFF_USERNAME} / {DEMO_STAFF_PASSWORD}")
        else:
            self.stdout.write("No demo staff login with DEBUG off: create staff with createsuperuser.")
