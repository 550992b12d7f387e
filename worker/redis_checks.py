"""Checks of the Redis the queues live on, made at start-up by the worker and the
scheduler, and by ``manage.py check --deploy``.

A Redis with an evicting ``maxmemory-policy`` (``allkeys-*``, ``volatile-*``: a common
default on managed Redis) drops keys when full, queued jobs among them, without an error
anywhere: Sidekiq warns about it at start-up; our worker and scheduler refuse to start.
The policy is read from ``INFO memory``, which managed services allow where they disable
``CONFIG``.
"""

from __future__ import annotations

import logging

from django.core.checks import Error, Tags, Warning, register
from redis import Redis
from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger("worker.jobs")

SAFE_POLICY = "noeviction"
EVICTING = (
    "Redis at {where} has maxmemory-policy {policy}: when full it evicts keys, queued jobs "
    "among them. Set maxmemory-policy noeviction (redis.conf, `CONFIG SET maxmemory-policy "
    "noeviction`, or the managed service's parameter group)."
)
UNCHECKED = "could not read maxmemory-policy of Redis at {where} ({error}); make sure it is noeviction"


def eviction_problem(connection: Redis) -> str | None:
    """A message if this Redis may evict jobs, or None when its policy is noeviction.
    Raises RedisError when Redis cannot be read at all."""
    from worker.queues import redis_address

    try:
        policy = connection.info("memory").get("maxmemory_policy")
    except ResponseError as error:  # INFO disabled or renamed
        logger.warning(UNCHECKED.format(where=redis_address(connection), error=error))
        return None
    if policy is None:
        logger.warning(UNCHECKED.format(where=redis_address(connection), error="not in INFO memory"))
        return None
    return None if policy == SAFE_POLICY else EVICTING.format(where=redis_address(connection), policy=policy)


@register(Tags.compatibility, deploy=True)
def check_redis_eviction(app_configs=None, **kwargs):
    from worker.queues import get_connection, redis_address

    try:
        problem = eviction_problem(get_connection())
    except RedisError as error:
        return [Warning(UNCHECKED.format(where=redis_address(), error=error), id="bookstore.W001")]
    return [Error(problem, id="bookstore.E001")] if problem else []
