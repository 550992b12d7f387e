"""The HTTP warehouse gateway against a real HTTP server on loopback."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from inventory.gateways import HttpGateway, NullGateway, WarehouseUnavailable, get_gateway
from worker.exceptions import PermanentTaskError

WAREHOUSE, BOOK = "6a2f0f39-0a4f-4c53-9d0e-2f6a3c9d1b11", "0b5c4e2d-6f1a-4f3b-8c7d-9e0a1b2c3d4e"


class WarehouseHandler(BaseHTTPRequestHandler):
    """Answers per the book id's first character: see ``answers`` below."""

    answers = {}
    seen = []

    def do_GET(self):
        self.seen.append((self.path, self.headers.get("Authorization")))
        status, body, delay = self.answers.get(self.path.rsplit("/", 1)[-1], (404, {}, 0))
        time.sleep(delay)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def warehouse():
    server = ThreadingHTTPServer(("127.0.0.1", 0), WarehouseHandler)
    WarehouseHandler.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", WarehouseHandler
    server.shutdown()
    server.server_close()


def gateway(url: str, **kwargs) -> HttpGateway:
    return HttpGateway(url, timeout=kwargs.pop("timeout", 1.0), **kwargs)


def test_200_gives_the_quantity_and_sends_the_token(warehouse):
    url, handler = warehouse
    handler.answers = {BOOK: (200, {"quantity": 42}, 0)}
    assert gateway(url, token="s3cret").fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK) == 42
    assert handler.seen == [(f"/warehouses/{WAREHOUSE}/stock/{BOOK}", "Bearer s3cret")]


def test_404_is_permanent(warehouse):
    url, handler = warehouse
    handler.answers = {}
    with pytest.raises(PermanentTaskError, match="404"):
        gateway(url).fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK)


def test_500_is_transient(warehouse):
    url, handler = warehouse
    handler.answers = {BOOK: (500, {"error": "db down"}, 0)}
    with pytest.raises(WarehouseUnavailable, match="HTTP 500"):
        gateway(url).fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK)


def test_too_slow_is_transient(warehouse):
    url, handler = warehouse
    handler.answers = {BOOK: (200, {"quantity": 1}, 1.5)}
    with pytest.raises(WarehouseUnavailable, match="timed out"):
        gateway(url, timeout=0.3).fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK)


@pytest.mark.parametrize(
    "body", [{}, {"quantity": -1}, {"quantity": "7"}, {"quantity": 2.5}, {"quantity": True}]
)
def test_an_answer_without_a_whole_quantity_is_transient(warehouse, body):
    url, handler = warehouse
    handler.answers = {BOOK: (200, body, 0)}
    with pytest.raises(WarehouseUnavailable):
        gateway(url).fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK)


def test_nobody_listening_is_transient():
    with pytest.raises(WarehouseUnavailable):
        gateway("http://127.0.0.1:9").fetch_quantity(warehouse_id=WAREHOUSE, book_id=BOOK)


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
