"""The HTTP warehouse gateway against a real HTTP server on loopback."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from inventory.exceptions import InvalidWarehouseAnswer, WarehouseStockUnknown, WarehouseUnavailable
from inventory.gateways import QUOTE_CHARS, HttpGateway, NullGateway, get_gateway
from inventory.models import STOCK_QUANTITY_MAX
from inventory.tasks import sync_inventory
from inventory.tests.factories import WarehouseInventoryFactory
from inventory.tests.warehouse import Answer, fake_warehouse
from worker.registry import registry

WAREHOUSE, BOOK = "6a2f0f39-0a4f-4c53-9d0e-2f6a3c9d1b11", "0b5c4e2d-6f1a-4f3b-8c7d-9e0a1b2c3d4e"
# The deadline of most calls here, and what a call may overrun it by on a busy machine.
DEADLINE, MARGIN = 1.0, 0.5


@pytest.fixture
def warehouse():
    with fake_warehouse() as (url, handler):
        yield url, handler


def gateway(url: str, **kwargs) -> HttpGateway:
    return HttpGateway(url, timeout=kwargs.pop("timeout", DEADLINE), **kwargs)


def fetch(url: str, **kwargs) -> int | None:
    return gateway(url, **kwargs).fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK)


# --- good answers --------------------------------------------------------------------


def test_200_gives_the_quantity_and_sends_the_token(warehouse):
    url, handler = warehouse
    handler.answers = {BOOK: Answer(body={"quantity": 42})}
    assert fetch(url, token="s3cret") == 42
    assert handler.seen == [(f"/warehouses/{WAREHOUSE}/stock/{BOOK}", "Bearer s3cret")]


@pytest.mark.parametrize("quantity", [0, STOCK_QUANTITY_MAX])
def test_the_smallest_and_largest_quantities_the_column_holds_are_taken(warehouse, quantity):
    url, handler = warehouse
    handler.answers = {BOOK: Answer(body={"quantity": quantity, "unit": "copies"})}
    assert fetch(url) == quantity


# --- answers that can never become a stock quantity: permanent ------------------------

MAINTENANCE_PAGE = b"<html><head><title>Maintenance</title></head><body>" + b"<p>Back soon.</p>" * 300

BAD_ANSWERS = {
    "malformed JSON": (b'{"quantity": 12', "not JSON", "'{\"quantity\": 12'"),
    "HTML": (b"<html><body>502 Bad Gateway</body></html>", "not JSON", "<html><body>502 Bad Gateway"),
    "a long HTML page": (MAINTENANCE_PAGE, "not JSON", "<html><head><title>Maintenance"),
    "a huge answer": (MAINTENANCE_PAGE * 20, "longer than 65536 bytes", "<html><head><title>Maintenance"),
    "empty": (b"", "not JSON", "''"),
    "not UTF-8": (b'{"quantity": \xff}', "not JSON", "quantity"),
    "null": (b"null", 'no "quantity"', "'null'"),
    "a list": (b"[7]", 'no "quantity"', "'[7]'"),
    "no quantity": (b'{"stock": 7}', 'no "quantity"', "stock"),
    "a null quantity": (b'{"quantity": null}', "not a whole number", '{"quantity": null}'),
    "negative": (b'{"quantity": -1}', "negative", '{"quantity": -1}'),
    "a fraction": (b'{"quantity": 2.5}', "not a whole number", '{"quantity": 2.5}'),
    "a whole float": (b'{"quantity": 7.0}', "not a whole number", '{"quantity": 7.0}'),
    "a string": (b'{"quantity": "7"}', "not a whole number", '{"quantity": "7"}'),
    "a boolean": (b'{"quantity": true}', "not a whole number", '{"quantity": true}'),
    "NaN": (b'{"quantity": NaN}', "not a whole number", '{"quantity": NaN}'),
    "too big for the column": (b'{"quantity": 2147483648}', "above 2147483647", "2147483648"),
    "far too big": (b'{"quantity": 1' + b"0" * 5000 + b"}", "not JSON", '{"quantity": 1000'),
}


@pytest.mark.parametrize(("body", "reason", "quoted"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_an_answer_that_is_no_stock_quantity_is_permanent_and_quotes_it(warehouse, body, reason, quoted):
    url, handler = warehouse
    content_type = "text/html" if body.startswith(b"<html") else "application/json"
    handler.answers = {BOOK: Answer(body=body, content_type=content_type)}
    with pytest.raises(InvalidWarehouseAnswer, match=reason) as error:
        fetch(url)
    message = str(error.value)
    assert quoted in message
    assert f"/stock/{BOOK}" in message
    # A long answer is quoted, not copied: the message stays readable in a log line.
    assert len(message) < QUOTE_CHARS + 300


def test_404_is_permanent(warehouse):
    url, _ = warehouse
    with pytest.raises(WarehouseStockUnknown, match="404"):
        fetch(url)


# --- no useful answer in time: transient ---------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(warehouse, status):
    url, handler = warehouse
    handler.answers = {BOOK: Answer(status=status, body={"error": "db down"})}
    with pytest.raises(WarehouseUnavailable, match=f"HTTP {status}"):
        fetch(url)


def test_a_server_that_does_not_answer_in_time_is_transient(warehouse):
    url, handler = warehouse
    handler.answers = {BOOK: Answer(body={"quantity": 1}, delay=1.5)}
    started = time.monotonic()
    with pytest.raises(WarehouseUnavailable, match="no complete answer within 0.3 s"):
        fetch(url, timeout=0.3)
    assert time.monotonic() - started < 0.3 + MARGIN


@pytest.mark.parametrize("trickle_headers", [False, True], ids=["body", "status line and headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(warehouse, trickle_headers):
    """One byte every 0.4 s: each read is well within httpx's timeout, yet the call
    ends at its deadline."""
    url, handler = warehouse
    handler.answers = {BOOK: Answer(body={"quantity": 1234567}, trickle=0.4, trickle_headers=trickle_headers)}
    started = time.monotonic()
    with pytest.raises(WarehouseUnavailable, match=f"no complete answer within {DEADLINE:g} s"):
        fetch(url)
    assert DEADLINE - 0.05 < time.monotonic() - started < DEADLINE + MARGIN


def test_nobody_listening_is_transient():
    with pytest.raises(WarehouseUnavailable, match="ConnectError"):
        fetch("http://127.0.0.1:9")


def test_calls_do_not_share_a_deadline(warehouse):
    """A gateway is used for many calls: each one gets the whole time."""
    url, handler = warehouse
    handler.answers = {BOOK: Answer(body={"quantity": 3}, delay=0.4)}
    client = gateway(url, timeout=0.6)
    assert [client.fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK) for _ in range(3)] == [3, 3, 3]


# --- through the service and the task: nothing changes, and the registry knows -------


@pytest.fixture
def http_gateway(settings, warehouse):
    url, handler = warehouse
    settings.WAREHOUSE_GATEWAY, settings.WAREHOUSE_API_URL = "http", url
    settings.WAREHOUSE_API_TIMEOUT = DEADLINE
    return handler


def sync_of(stock) -> BaseException:
    """Runs the inventory:sync job's function on ``stock`` and returns what it raised."""
    with pytest.raises(Exception) as error:
        sync_inventory(str(stock.warehouse_id), str(stock.book_id))
    return error.value


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "reason", "quoted"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_a_bad_answer_fails_the_sync_job_for_good_and_changes_no_stock(http_gateway, body, reason, quoted):
    stock = WarehouseInventoryFactory(quantity=5)
    http_gateway.answers = {str(stock.book_id): Answer(body=body)}
    error = sync_of(stock)
    assert isinstance(error, InvalidWarehouseAnswer) and quoted in str(error)
    assert registry.get("inventory:sync").is_permanent(error)
    stock.refresh_from_db()
    assert (stock.quantity, stock.last_synced_at, stock.last_restocked_at) == (5, None, None)


@pytest.mark.django_db
def test_an_unknown_stock_at_the_warehouse_fails_the_sync_job_for_good(http_gateway):
    stock = WarehouseInventoryFactory(quantity=5)
    error = sync_of(stock)
    assert isinstance(error, WarehouseStockUnknown)
    assert registry.get("inventory:sync").is_permanent(error)
    stock.refresh_from_db()
    assert stock.quantity == 5 and stock.last_synced_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [Answer(status=503, body={}), Answer(body={"quantity": 9}, trickle=0.4)],
    ids=["503", "trickling"],
)
def test_a_warehouse_without_a_useful_answer_is_retried_and_changes_no_stock(http_gateway, answer):
    stock = WarehouseInventoryFactory(quantity=5)
    http_gateway.answers = {str(stock.book_id): answer}
    started = time.monotonic()
    error = sync_of(stock)
    assert time.monotonic() - started < DEADLINE + MARGIN
    assert isinstance(error, WarehouseUnavailable)
    assert not registry.get("inventory:sync").is_permanent(error)
    stock.refresh_from_db()
    assert stock.quantity == 5 and stock.last_synced_at is None


@pytest.mark.django_db
def test_the_largest_quantity_reaches_the_stock_row(http_gateway):
    stock = WarehouseInventoryFactory(quantity=5)
    http_gateway.answers = {str(stock.book_id): Answer(body={"quantity": STOCK_QUANTITY_MAX})}
    assert sync_inventory(str(stock.warehouse_id), str(stock.book_id))["quantity"] == STOCK_QUANTITY_MAX
    stock.refresh_from_db()
    assert stock.quantity == STOCK_QUANTITY_MAX and stock.last_restocked_at is not None


def test_the_setting_chooses_the_gateway(settings):
    assert isinstance(get_gateway(), NullGateway)
    settings.WAREHOUSE_GATEWAY, settings.WAREHOUSE_API_URL = "http", "http://warehouse.internal"
    assert isinstance(get_gateway(), HttpGateway)
    settings.WAREHOUSE_API_URL = ""
    with pytest.raises(ImproperlyConfigured, match="WAREHOUSE_API_URL"):
        get_gateway()
    settings.WAREHOUSE_GATEWAY = "ftp"
    with pytest.raises(ImproperlyConfigured, match="'null' or 'http'"):
        get_gateway()
