"""A believable store for the demo and the benchmarks, written with bulk inserts.

Sizes grow linearly with ``scale``: scale 1 is a small shop that seeds in seconds on
SQLite; scale 100 is about a million orders, three million items, a million carts
(half expired) and 100,000 stock rows (10,000 of them low), for the benchmarks.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from carts.models import Cart, CartItem
from inventory.models import Book, Warehouse, WarehouseInventory
from orders.models import Order, OrderItem, OrderStatus, OrderStatusHistory, PaymentMethod
from orders.services import order_schedule_cod_confirm
from worker.queues import TaskCall, enqueue_many
from worker.schedule import get_schedule
from worker.scheduler import due_ticks

DEMO_STAFF_USERNAME = "staff"
DEMO_STAFF_PASSWORD = "bookstore-demo"  # a demo login printed by the run command, not a secret
DEMO_WAREHOUSES = [
    ("HCM", "Ho Chi Minh City"),
    ("HAN", "Ha Noi"),
    ("DAN", "Da Nang"),
    ("CTO", "Can Tho"),
    ("HPH", "Hai Phong"),
]
DEMO_MARKER_CODE = "HCM"
BATCH_SIZE = 5000
DAYS = 30
FRESH_COD_ORDERS = 5  # pending COD orders placed just before the seed, to confirm in the demo

_TITLE_WORDS_A = ["Silent", "Golden", "Hidden", "Last", "Northern", "Paper", "Quiet", "Red", "Salt", "Winter"]
_TITLE_WORDS_B = [
    "River",
    "Garden",
    "Lantern",
    "Harbour",
    "Letters",
    "Mountain",
    "Orchard",
    "Road",
    "Tide",
    "Voyage",
]
_AUTHORS = [
    "Nguyen Nhat Anh",
    "Le Minh Khue",
    "Bao Ninh",
    "Ho Anh Thai",
    "Duong Thu Huong",
    "Nguyen Huy Thiep",
]

# Status by age: fresh orders are mostly pending/confirmed, old ones mostly completed.
_STATUS_WEIGHTS_RECENT = {"pending": 45, "confirmed": 25, "processing": 15, "cancelled": 15}
_STATUS_WEIGHTS_OLD = {
    "confirmed": 3,
    "processing": 5,
    "shipping": 8,
    "delivered": 12,
    "completed": 60,
    "cancelled": 12,
}
_PATH = ["pending", "confirmed", "processing", "shipping", "delivered", "completed"]


@dataclass(frozen=True)
class DemoSize:
    books: int
    users: int
    carts: int
    orders: int

    @classmethod
    def for_scale(cls, scale: int) -> DemoSize:
        return cls(books=200 * scale, users=1000 * scale, carts=10_000 * scale, orders=10_000 * scale)

    @property
    def stock_rows(self) -> int:
        return self.books * len(DEMO_WAREHOUSES)


@dataclass
class DemoResult:
    seeded: bool
    counts: dict[str, int]


def demo_is_seeded() -> bool:
    return Warehouse.objects.filter(code=DEMO_MARKER_CODE).exists()


def demo_staff_ensure() -> bool:
    """Creates the demo staff user if missing; returns whether it was created."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=DEMO_STAFF_USERNAME,
        defaults={"email": "staff@bookstore.local", "is_staff": True, "is_superuser": True},
    )
    if created:
        user.set_password(DEMO_STAFF_PASSWORD)
        user.save(update_fields=["password"])
    return created


def _batched(items: Iterator, size: int = BATCH_SIZE) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def demo_seed(
    *,
    scale: int = 1,
    seed: int = 2026,
    size: DemoSize | None = None,
    progress: Callable[[int], None] = lambda n: None,
    staff: bool = True,
) -> DemoResult:
    """Fills the store once. A second call finds the demo and changes nothing.

    ``size`` overrides the size that ``scale`` gives (tests use a small store);
    ``progress`` is called with the number of rows just written, for a progress bar;
    ``staff`` creates the demo staff login (never where DEBUG is off).
    """
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    if staff:
        demo_staff_ensure()
    if demo_is_seeded():
        return DemoResult(seeded=False, counts={})

    rng = random.Random(seed)
    user_model = get_user_model()
    size = size or DemoSize.for_scale(scale)
    now = timezone.now()
    counts: dict[str, int] = {}

    def write(model, rows) -> list:
        written = model.objects.bulk_create(rows)
        progress(len(written))
        key = model._meta.verbose_name_plural
        counts[key] = counts.get(key, 0) + len(written)
        return written

    with transaction.atomic():
        # The marker warehouse goes in last, so an interrupted seed is retried whole.
        warehouses = write(
            Warehouse, [Warehouse(code=c, name=n) for c, n in DEMO_WAREHOUSES if c != DEMO_MARKER_CODE]
        )
        books = [book for batch in _batched(_books(rng, size.books)) for book in write(Book, batch)]
        warehouses += write(
            Warehouse, [Warehouse(code=DEMO_MARKER_CODE, name=dict(DEMO_WAREHOUSES)[DEMO_MARKER_CODE])]
        )
        for batch in _batched(_stock(rng, books, warehouses, now)):
            write(WarehouseInventory, batch)
        customers = [
            user for batch in _batched(_customers(rng, size.users, now)) for user in write(user_model, batch)
        ]
        # Carts, orders and their children go in batch by batch: at scale 100 they are
        # millions of rows, which must never be held in memory at once.
        for batch in _batched(_carts(rng, customers, size.carts, now)):
            carts = write(Cart, batch)
            write(
                CartItem,
                [CartItem(cart=cart, book=rng.choice(books), quantity=rng.randint(1, 3)) for cart in carts],
            )
        awaiting_confirmation = []
        for batch in _batched(_orders(rng, customers, books, size.orders, now), BATCH_SIZE // 5):
            orders = write(Order, [order for order, _, _ in batch])
            write(OrderItem, [item for _, items, _ in batch for item in items])
            write(OrderStatusHistory, [row for _, _, history in batch for row in history])
            awaiting_confirmation += [
                order
                for order in orders
                if order.payment_method == PaymentMethod.COD and order.status == OrderStatus.PENDING
            ]
        _schedule_jobs(awaiting_confirmation, now)
    return DemoResult(seeded=True, counts=counts)


def _schedule_jobs(awaiting_confirmation: list[Order], now) -> None:
    """The jobs a store with this past would have: the confirmations of the COD orders
    placed in the last COD_AUTO_CONFIRM_DELAY seconds, and the daily statistics of every
    seeded day, under the scheduler's own job ids (so its first-start catch-up adds none).
    In the seed's transaction: they reach Redis with its commit (the outbox)."""
    for order in awaiting_confirmation:
        order_schedule_cod_confirm(order_id=order.id, placed_at=order.created_at)
    stats = next(entry for entry in get_schedule() if entry.task == "stats:daily")
    ticks = due_ticks(replace(stats, max_catch_up=DAYS), None, now)
    enqueue_many(
        # Each for its own day only: the data is new, no past day needs refreshing.
        [
            TaskCall(stats.task, kwargs={"date": stats.arguments(tick)["date"]}, job_id=stats.job_id(tick))
            for tick in ticks
        ]
    )


def demo_total_rows(scale: int) -> int:
    """An estimate of the rows demo_seed writes (orders: 3 items and 5 history rows on
    average), for the progress bar's total."""
    size = DemoSize.for_scale(scale)
    return len(DEMO_WAREHOUSES) + size.books + size.stock_rows + size.users + 2 * size.carts + size.orders * 9


def _books(rng: random.Random, count: int) -> Iterator[Book]:
    for n in range(count):
        title = f"{rng.choice(_TITLE_WORDS_A)} {rng.choice(_TITLE_WORDS_B)}"
        yield Book(
            title=f"{title} {n + 1}" if n >= 100 else f"The {title}",
            author=rng.choice(_AUTHORS),
            isbn=f"978{n:010d}",
            price=Decimal(rng.randrange(50, 500) * 1000),
            is_active=rng.random() > 0.03,
        )


def _stock(
    rng: random.Random, books: list[Book], warehouses: list[Warehouse], now
) -> Iterator[WarehouseInventory]:
    for book in books:
        for warehouse in warehouses:
            threshold = rng.choice([5, 10, 20])
            roll = rng.random()
            if roll < 0.10:  # low: 0 < quantity <= threshold
                quantity = rng.randint(1, threshold)
            elif roll < 0.13:  # out of stock
                quantity = 0
            else:
                quantity = rng.randint(threshold + 1, 400)
            yield WarehouseInventory(
                book=book,
                warehouse=warehouse,
                quantity=quantity,
                alert_threshold=threshold,
                last_restocked_at=now - timedelta(days=rng.randint(1, 60)),
            )


def _customers(rng: random.Random, count: int, now) -> Iterator:
    user_model = get_user_model()
    password = make_password("customer-demo")
    for n in range(count):
        yield user_model(
            username=f"customer{n:06d}",
            email=f"customer{n:06d}@example.com",
            password=password,
            date_joined=now - timedelta(seconds=rng.randint(0, 90 * 86400)),
        )


def _carts(rng: random.Random, customers: list, count: int, now) -> Iterator[Cart]:
    for n in range(count):
        created = now - timedelta(seconds=rng.randint(0, 14 * 86400))
        # Half have expired (the cleanup job's work); the rest expire in the coming week.
        sign = -1 if n % 2 else 1
        expires = now + sign * timedelta(seconds=rng.randint(60, 7 * 86400))
        created = min(created, expires - timedelta(days=1))
        yield Cart(user=customers[n % len(customers)], created_at=created, expires_at=expires)


def _orders(rng: random.Random, customers: list, books: list[Book], count: int, now) -> Iterator[tuple]:
    """Yields (order, items, status history) with money that adds up and a history that
    follows the status graph from ``pending`` to the order's status."""
    methods = list(PaymentMethod.values)
    cod_delay = settings.COD_AUTO_CONFIRM_DELAY
    stale_after = timedelta(seconds=settings.PENDING_ORDER_STALE_AFTER)
    for number in range(count):
        created = now - timedelta(seconds=rng.randint(0, DAYS * 86400))
        age_days = (now - created).total_seconds() / 86400
        weights = _STATUS_WEIGHTS_RECENT if age_days < 2 else _STATUS_WEIGHTS_OLD
        status = rng.choices(list(weights), weights=list(weights.values()))[0]
        method = rng.choice(methods)
        if number < FRESH_COD_ORDERS:
            # Placed moments ago: they confirm themselves in the demo's first minute (10 to
            # 30 s after the seed), as any COD order does COD_AUTO_CONFIRM_DELAY after it
            # is placed.
            created = now - timedelta(seconds=max(cod_delay - 10 - 5 * number, 0))
            status, method = OrderStatus.PENDING, PaymentMethod.COD
        elif (
            status == OrderStatus.PENDING
            and method == PaymentMethod.COD
            and now - created > timedelta(seconds=cod_delay)
        ):
            status = OrderStatus.CONFIRMED  # it confirmed itself long ago
        order = Order(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            user=rng.choice(customers),
            status=status,
            payment_method=method,
            created_at=created,
        )
        if status == OrderStatus.PENDING and now - created > stale_after:
            order.stale_reported_at = created + stale_after  # reported when it went stale
        items = [
            OrderItem(order=order, book=book, quantity=rng.randint(1, 3), unit_price=book.price)
            for book in rng.sample(books, rng.randint(1, 5))
        ]
        order.subtotal = sum((item.unit_price * item.quantity for item in items), Decimal(0))
        order.discount_amount = (order.subtotal * rng.choice([0, 0, 0, 5, 10]) / 100).quantize(Decimal("1"))
        order.shipping_fee = Decimal(rng.choice([0, 15000, 30000]))
        order.total = order.subtotal - order.discount_amount + order.shipping_fee
        path = (
            ["pending", "cancelled"] if status == OrderStatus.CANCELLED else _PATH[: _PATH.index(status) + 1]
        )
        history = [
            OrderStatusHistory(
                order=order, old_status="", new_status="pending", note="Order placed", created_at=created
            )
        ]
        history += [
            OrderStatusHistory(
                order=order,
                old_status=old,
                new_status=new,
                note="",
                created_at=created + timedelta(hours=step),
            )
            for step, (old, new) in enumerate(pairwise(path), start=1)
        ]
        yield order, items, history
