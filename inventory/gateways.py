"""The warehouse system, behind a gateway chosen by WAREHOUSE_GATEWAY (null or http)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from inventory.exceptions import InvalidWarehouseAnswer, WarehouseStockUnknown, WarehouseUnavailable
from inventory.models import STOCK_QUANTITY_MAX

# An answer is ``{"quantity": N}``: anything longer than this is not one, and reading
# no more keeps a worker's memory bounded whatever the server sends.
MAX_ANSWER_BYTES = 64 * 1024
# How much of a bad answer an error message quotes.
QUOTE_CHARS = 200

STOCK_UNKNOWN = "warehouse API {path}: the warehouse does not know this stock (404)"
HTTP_ERROR = "warehouse API {path}: HTTP {status}"
TIMED_OUT = "warehouse API {path}: no complete answer within {seconds:g} s"
UNREACHABLE = "warehouse API {path}: {error}"
BAD_ANSWER = "warehouse API {path}: {reason}: {answer}"


class WarehouseGateway(Protocol):
    def fetch_quantity(self, *, warehouse_id: str, book_id: str) -> int | None:
        """The warehouse's stock of the book, or None to keep the local quantity."""


class NullGateway:
    """No warehouse system: the local quantity stands."""

    def fetch_quantity(self, *, warehouse_id: str, book_id: str) -> int | None:
        return None


class _Deadline:
    """Ends an HTTP call when its time is up, whatever the server does.

    httpx's timeouts bound each network operation, not the call: a server that sends a
    byte before every read timeout holds the caller for ever. So a timer shuts the
    call's connection down at the deadline, which wakes a blocked read (or TLS
    handshake) at once. The socket comes from httpcore's documented ``trace``
    extension when the connection opens; a duplicate of it is kept, because TLS
    detaches the original, and shutting down either shuts down the connection.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends_at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    @property
    def expired(self) -> bool:
        with self._lock:
            return self._expired or time.monotonic() >= self._ends_at

    def left(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def trace(self, event_name: str, info: dict) -> None:
        if event_name != "connection.connect_tcp.complete":
            return
        sock = info["return_value"].get_extra_info("socket").dup()
        with self._lock:
            if self._socket is not None:
                self._socket.close()
            self._socket = sock
            if self._expired:
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            if self._socket is not None:
                self._shut()

    def _shut(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)


def quote(answer: bytes) -> str:
    """An answer for an error message: printable, its first QUOTE_CHARS characters."""
    text = answer.decode("utf-8", errors="replace")
    if len(text) <= QUOTE_CHARS:
        return repr(text)
    return f"{text[:QUOTE_CHARS]!r}... ({len(answer)} bytes)"


def parse_quantity(answer: bytes, *, path: str) -> int:
    """The stock quantity in a 200 answer ``{"quantity": N}``, N a whole number from 0 to
    what the column holds; anything else is an InvalidWarehouseAnswer quoting it."""

    def invalid(reason: str) -> InvalidWarehouseAnswer:
        return InvalidWarehouseAnswer(BAD_ANSWER.format(path=path, reason=reason, answer=quote(answer)))

    if len(answer) > MAX_ANSWER_BYTES:
        raise invalid(f"answer longer than {MAX_ANSWER_BYTES} bytes")
    try:
        body = json.loads(answer)
    except ValueError:  # not JSON, not UTF-8, or an integer too long to parse
        raise invalid("not JSON") from None
    if not isinstance(body, dict) or "quantity" not in body:
        raise invalid('no "quantity" in the answer')
    quantity = body["quantity"]
    # bool is an int in Python, but true is not a stock quantity.
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise invalid("the quantity is not a whole number")
    if quantity < 0:
        raise invalid("the quantity is negative")
    if quantity > STOCK_QUANTITY_MAX:
        raise invalid(f"the quantity is above {STOCK_QUANTITY_MAX}, the most a stock row holds")
    return quantity


class HttpGateway:
    """``GET {base_url}/warehouses/{warehouse_id}/stock/{book_id}`` answering ``{"quantity": N}``.

    The whole call, from connecting to the answer's last byte, takes at most ``timeout``
    seconds. A 404 and an answer that can never be a quantity are permanent errors; no
    answer in time, a connection error and a 5xx are WarehouseUnavailable (retried).
    """

    def __init__(self, base_url: str, *, token: str = "", timeout: float = 5.0):
        if not base_url:
            raise ImproperlyConfigured("WAREHOUSE_GATEWAY=http needs WAREHOUSE_API_URL")
        # Uncompressed answers: what is read is what is parsed, and bounded.
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout
        # No keep-alive: every call has a connection of its own, so its deadline's
        # timer shuts down that call's socket and no other.
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def fetch_quantity(self, *, warehouse_id: str, book_id: str) -> int | None:
        path = f"/warehouses/{warehouse_id}/stock/{book_id}"
        with _Deadline(self._timeout) as deadline:
            try:
                status, answer = self._get(path, deadline)
            except httpx.HTTPError as error:
                if deadline.expired or isinstance(error, httpx.TimeoutException):
                    raise WarehouseUnavailable(TIMED_OUT.format(path=path, seconds=self._timeout)) from None
                raise WarehouseUnavailable(
                    UNREACHABLE.format(path=path, error=f"{type(error).__name__}: {error}")
                ) from None
            if deadline.expired:
                # The answer may have been cut short by the deadline: it is not parsed.
                raise WarehouseUnavailable(TIMED_OUT.format(path=path, seconds=self._timeout))
        if status == 404:
            raise WarehouseStockUnknown(STOCK_UNKNOWN.format(path=path))
        if status != 200:
            raise WarehouseUnavailable(HTTP_ERROR.format(path=path, status=status))
        return parse_quantity(answer, path=path)

    def _get(self, path: str, deadline: _Deadline) -> tuple[int, bytes]:
        """The status and, for a 200, at most MAX_ANSWER_BYTES + 1 bytes of the answer.
        Each network operation may take the time left, no more."""
        request = self._client.build_request(
            "GET", path, timeout=deadline.left(), extensions={"trace": deadline.trace}
        )
        with contextlib.closing(self._client.send(request, stream=True)) as response:
            if response.status_code != 200:
                return response.status_code, b""
            answer = bytearray()
            for chunk in response.iter_bytes():
                answer += chunk
                if len(answer) > MAX_ANSWER_BYTES or deadline.expired:
                    break
            return response.status_code, bytes(answer)


def get_gateway() -> WarehouseGateway:
    kind = settings.WAREHOUSE_GATEWAY
    if kind == "null":
        return NullGateway()
    if kind == "http":
        return HttpGateway(
            settings.WAREHOUSE_API_URL,
            token=settings.WAREHOUSE_API_TOKEN,
            timeout=settings.WAREHOUSE_API_TIMEOUT,
        )
    raise ImproperlyConfigured(f"WAREHOUSE_GATEWAY must be 'null' or 'http', not {kind!r}")
