"""A store the size of `seed_demo --scale 100`, written in set-wise SQL on PostgreSQL in
well under a minute (the ORM seed takes several): 100,000 customers, 20,000 books in 5
warehouses (100,000 stock rows, 10,000 of them low), 1,000,000 carts (half expired,
one item each) and 1,000,000 orders over 30 days with 3 items each.

Ids are derived from row numbers (md5 -> uuid), so items can point at their books and
orders without a lookup, and every order's money adds up (the database checks it).
"""

from __future__ import annotations

import time

from django.db import connection

USERS, BOOKS, CARTS, ORDERS = 100_000, 20_000, 1_000_000, 1_000_000
WAREHOUSES = ["HCM", "HAN", "DAN", "CTO", "HPH"]
PRICE = "(50000 + ({b} % 450) * 1000)"
BOOK_OF_ITEM = "((o * 7 + k * 101) % {books})"
QUANTITY_OF_ITEM = "(1 + (o + k) % 3)"
ITEM_PRICE = PRICE.format(b=BOOK_OF_ITEM.format(books=BOOKS))
# Status by order number: 2 in 20 pending, 2 cancelled, 11 completed, the rest on the way.
STATUSES = (
    "ARRAY["
    + ",".join(
        f"'{s}'"
        for s in ["pending"] * 2
        + ["confirmed", "processing", "shipping"]
        + ["delivered"] * 2
        + ["cancelled"] * 2
        + ["completed"] * 11
    )
    + "]"
)


def _run(cursor, label: str, sql: str, params=None) -> None:
    started = time.perf_counter()
    cursor.execute(sql.replace(" % ", " %% "), params)  # modulo, not a placeholder
    print(f"  {label}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f} s", flush=True)


def generate() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_order")
        if cursor.fetchone()[0] >= ORDERS:
            print("big store already there")
            return
        print("generating the big store (scale 100):", flush=True)
        _run(
            cursor,
            "customers",
            """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                                      is_staff, is_active, date_joined)
               SELECT '!', false, 'big' || n, '', '', 'big' || n || '@example.com', false, true,
                      now() - (n % 90) * interval '1 day'
               FROM generate_series(1, %s) n""",
            [USERS],
        )
        _run(
            cursor,
            "books",
            f"""INSERT INTO inventory_book (id, title, author, isbn, price, is_active, created_at, updated_at)
                SELECT md5('book' || b)::uuid, 'Big book ' || b, 'Author ' || (b % 500),
                       '977' || lpad(b::text, 10, '0'), {PRICE.format(b="b")}, b % 50 <> 1, now(), now()
                FROM generate_series(0, %s - 1) b""",
            [BOOKS],
        )
        cursor.executemany(
            "INSERT INTO inventory_warehouse (id, name, code, created_at)"
            " VALUES (md5(%s)::uuid, %s, %s, now())",
            [(f"warehouse{w}", f"Big {code}", f"BIG-{code}") for w, code in enumerate(WAREHOUSES)],
        )
        _run(
            cursor,
            "stock",
            """INSERT INTO warehouse_inventory (book_id, warehouse_id, quantity, alert_threshold, updated_at)
               SELECT md5('book' || b)::uuid, md5('warehouse' || w)::uuid,
                      CASE WHEN (b * 5 + w) % 10 = 0 THEN 1 + b % 10 ELSE 100 END, 10, now()
               FROM generate_series(0, %s - 1) b, generate_series(0, %s - 1) w""",
            [BOOKS, len(WAREHOUSES)],
        )
        cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'big%%'")
        first_user = cursor.fetchone()[0]
        expired_carts(cursor, first_user, CARTS // 2, active=CARTS // 2)
        _run(
            cursor,
            "orders",
            f"""INSERT INTO orders_order (id, user_id, status, payment_method, subtotal, discount_amount,
                                          shipping_fee, total, created_at, updated_at)
                SELECT md5('order' || o)::uuid, %s + o % %s,
                       ({STATUSES})[1 + o % 20],
                       (ARRAY['cod','vnpay','momo'])[1 + o % 3],
                       s.subtotal, 0, (o % 3) * 15000, s.subtotal + (o % 3) * 15000,
                       now() - (o * 2.592) * interval '1 second', now()
                FROM generate_series(0, %s - 1) o,
                LATERAL (SELECT sum({ITEM_PRICE} * {QUANTITY_OF_ITEM}) AS subtotal
                         FROM generate_series(0, 2) k) s""",
            [first_user, USERS, ORDERS],
        )
        _run(
            cursor,
            "order items",
            f"""INSERT INTO orders_orderitem (order_id, book_id, quantity, unit_price)
                SELECT md5('order' || o)::uuid, md5('book' || {BOOK_OF_ITEM.format(books=BOOKS)})::uuid,
                       {QUANTITY_OF_ITEM}, {PRICE.format(b=BOOK_OF_ITEM.format(books=BOOKS))}
                FROM generate_series(0, %s - 1) o, generate_series(0, 2) k""",
            [ORDERS],
        )
        cursor.execute("ANALYZE")


def expired_carts(cursor, first_user: int | None = None, expired: int = CARTS // 2, active: int = 0) -> None:
    """Half a million expired carts (and ``active`` live ones), one item each."""
    if first_user is None:
        cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'big%%'")
        first_user = cursor.fetchone()[0]
    _run(
        cursor,
        "carts",
        """INSERT INTO carts_cart (user_id, expires_at, created_at, updated_at)
           SELECT %s + n % %s,
                  CASE WHEN n < %s THEN now() - interval '1 hour' - (n % 86400) * interval '1 second'
                       ELSE now() + interval '1 day' + (n % 86400) * interval '1 second' END,
                  now() - interval '2 days', now()
           FROM generate_series(0, %s - 1) n""",
        [first_user, USERS, expired, expired + active],
    )
    _run(
        cursor,
        "cart items",
        """INSERT INTO carts_cartitem (cart_id, book_id, quantity)
           SELECT c.id, md5('book' || (c.id % %s))::uuid, 1 FROM carts_cart c
           WHERE NOT EXISTS (SELECT 1 FROM carts_cartitem i WHERE i.cart_id = c.id)""",
        [BOOKS],
    )
    cursor.execute("ANALYZE carts_cart")
    cursor.execute("ANALYZE carts_cartitem")
