"""Errors of the inventory domain, and of the warehouse system behind its gateway.

Whether a job fails at once on one of them is declared with its task (``throws=`` in
``inventory/tasks.py``), not here. ``WarehouseUnavailable`` is the one meant to be
retried: the warehouse system may answer later.
"""


class InventoryError(Exception):
    """Base of the inventory domain's errors."""


class InvalidInventoryId(InventoryError):
    """A warehouse, book or alert id that cannot name a row (not a UUID, not a number)."""


class StockNotFound(InventoryError):
    """No stock row for this book in this warehouse."""


class AlertNotFound(InventoryError):
    """No low-stock alert has this id."""


class WarehouseStockUnknown(InventoryError):
    """The warehouse system does not know this stock (it answered 404)."""


class InvalidWarehouseAnswer(InventoryError):
    """The warehouse system answered something that can never become a stock quantity:
    not JSON, no ``quantity``, not a whole number, negative, or too big for the column."""


class WarehouseUnavailable(InventoryError):
    """The warehouse system did not answer in time or at all, or answered 5xx: retried."""
