"""Writes on carts."""

import logging

from django.db import transaction
from django.utils import timezone

from carts.models import Cart

logger = logging.getLogger(__name__)

DELETE_BATCH = 5000


def carts_delete_expired(*, batch_size: int = DELETE_BATCH) -> int:
    """Deletes carts whose ``expires_at`` has passed, with their items, ``batch_size``
    carts per transaction, so no statement holds locks for long on a big table; carts a
    parallel run is deleting are skipped (``skip_locked``). Returns how many it deleted."""
    now = timezone.now()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                Cart.objects.select_for_update(skip_locked=True)
                .expired(now=now)
                .order_by("expires_at")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            Cart.objects.filter(id__in=ids).delete()
        deleted += len(ids)
        logger.debug("deleted %s expired carts so far", deleted)
    logger.info("deleted %s expired carts", deleted)
    return deleted
