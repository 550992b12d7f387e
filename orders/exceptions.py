"""Errors of the orders domain.

Each one means the request can never succeed as asked. Whether a job fails at once on
one of them is declared with its task (``throws=`` in ``orders/tasks.py``), not here.
"""


class OrderError(Exception):
    """Base of the orders domain's errors."""


class InvalidOrderId(OrderError):
    """The order id is not a UUID."""


class OrderNotFound(OrderError):
    """No order has this id."""


class UnknownOrderStatus(OrderError):
    """The status is not one of ``OrderStatus``."""


class ForbiddenStatusChange(OrderError):
    """The order-status graph does not allow this change."""
