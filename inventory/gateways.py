"""The warehouse system, behind a gateway chosen by WAREHOUSE_GATEWAY (null or http)."""

from __future__ import annotations

from typing import Protocol

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from worker.exceptions import PermanentTaskError


class WarehouseUnavailable(Exception):
    """The warehouse system did not answer usefully (timeout, 5xx, bad body): retried."""


class WarehouseGateway(Protocol):
    def fetch_quantity(self, *, warehouse_id: str, book_id: str) -> int | None:
        """The warehouse's stock of the book, or None to keep the local quantity."""


class NullGateway:
    """No warehouse system: the local quantity stands."""

    def fetch_quantity(self, *, warehouse_id: str, book_id: str) -> int | None:
        return None


class HttpGateway:
    """``GET {base_url}/warehouses/{warehouse_id}/stock/{book_id}`` answering ``{"quantity": N}``."""

    def __init__(self, base_url: str, *, token: str = "", timeout: float = 5.0, transport=None):
        if not base_url:
            raise ImproperlyConfigured("WAREHOUSE_GATEWAY=http needs WAREHOUSE_API_URL")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def fetch_quantity(self, *, warehouse_id: str, book_id: str) -> int | None:
        path = f"/warehouses/{warehouse_id}/stock/{book_id}"
        try:
            response = self._client.get(path)
        except httpx.TimeoutException as error:
            raise WarehouseUnavailable(f"warehouse API {path}: timed out ({error})") from None
        except httpx.TransportError as error:
            raise WarehouseUnavailable(f"warehouse API {path}: {type(error).__name__}: {error}") from None
        if response.status_code == 404:
            raise PermanentTaskError(f"warehouse API {path}: the warehouse does not know this stock (404)")
        if response.status_code != 200:
            raise WarehouseUnavailable(f"warehouse API {path}: HTTP {response.status_code}")
        try:
            quantity = response.json()["quantity"]
        except (ValueError, KeyError, TypeError):
            raise WarehouseUnavailable(f"warehouse API {path}: no quantity in the answer") from None
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise WarehouseUnavailable(
                f"warehouse API {path}: quantity {quantity!r} is not a whole number >= 0"
            )
        return quantity


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
