from django.db import OperationalError

from worker.registry import registry


def test_the_cart_cleanup_has_no_permanent_error():
    cleanup = registry.get("cart:cleanup")
    assert cleanup.throws == ()
    assert not cleanup.is_permanent(OperationalError("the database is starting up"))
