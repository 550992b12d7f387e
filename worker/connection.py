"""The one way to the queues' Redis, for every process and path: the worker (``rqworker``
and ``rqworker-pool``), run_scheduler, the web (enqueue helpers, dashboard, /health,
/metrics) and the commands.

Two deployments, read from the settings:

* ``REDIS_URL``: one Redis (``redis://``, or ``rediss://`` for TLS with certificate
  checks). The database number is the URL's path.
* ``REDIS_SENTINELS=host:port,...`` with ``REDIS_MASTER_NAME``: Redis Sentinel. It wins
  over ``REDIS_URL``. ``REDIS_PASSWORD`` is the master's and replicas',
  ``REDIS_SENTINEL_PASSWORD`` the sentinels' (none by default), ``REDIS_DB`` the database,
  ``REDIS_SSL`` turns on TLS to sentinels and Redis alike (certificates checked, against
  ``REDIS_SSL_CA_CERTS`` when given).

``connection_config`` turns these into django-rq's own connection settings (``URL``, or
``SENTINELS`` and ``MASTER_NAME``), which settings.py puts in every ``RQ_QUEUES`` entry,
so django-rq's commands and dashboard connect exactly as our code does: through
django-rq's factory, with redis-py's Sentinel client asking the sentinels for the master
again after each connection error (a failover is followed without a restart).
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

CONNECT_TIMEOUT = 5  # seconds to open a connection to Redis or a sentinel


def parse_sentinels(value: str | list[str]) -> list[tuple[str, int]]:
    """``"h1:26379,h2:26379"`` (or the list django-environ made of it) as (host, port)
    pairs; a clear ValueError for anything else."""
    items = value.split(",") if isinstance(value, str) else value
    sentinels = []
    for item in (item.strip() for item in items):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"REDIS_SENTINELS: {item!r} is not host:port (e.g. 10.0.0.5:26379)")
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


def connection_config(
    *,
    url: str,
    sentinels: list[tuple[str, int]] | None = None,
    master_name: str = "",
    password: str = "",
    sentinel_password: str = "",
    db: int = 0,
    ssl: bool = False,
    ssl_ca_certs: str = "",
) -> dict[str, Any]:
    """django-rq's connection settings for one RQ_QUEUES entry."""
    if not sentinels:
        return {"URL": url}
    if not master_name:
        raise ValueError("REDIS_MASTER_NAME is required with REDIS_SENTINELS (the name sentinels monitor)")
    tls: dict[str, Any] = {}
    if ssl:
        tls = {"ssl": True, "ssl_cert_reqs": "required"}
        if ssl_ca_certs:
            tls["ssl_ca_certs"] = ssl_ca_certs
    sentinel_kwargs: dict[str, Any] = {"socket_connect_timeout": CONNECT_TIMEOUT, **tls}
    if sentinel_password:
        sentinel_kwargs["password"] = sentinel_password
    return {
        "SENTINELS": sentinels,
        "MASTER_NAME": master_name,
        "DB": db,
        "PASSWORD": password or None,
        "SENTINEL_KWARGS": sentinel_kwargs,
        "CONNECTION_KWARGS": {"socket_connect_timeout": CONNECT_TIMEOUT, **tls},
    }


def settings_config() -> dict[str, Any]:
    """The connection settings as the Django settings say now (a test's override of
    REDIS_URL included)."""
    from django.conf import settings

    return connection_config(
        url=settings.REDIS_URL,
        sentinels=settings.REDIS_SENTINELS,
        master_name=settings.REDIS_MASTER_NAME,
        password=settings.REDIS_PASSWORD,
        sentinel_password=settings.REDIS_SENTINEL_PASSWORD,
        db=settings.REDIS_DB,
        ssl=settings.REDIS_SSL,
        ssl_ca_certs=settings.REDIS_SSL_CA_CERTS,
    )


def connect(config: dict[str, Any] | None = None, *, timeout: float | None = None) -> Redis:
    """A new client (with its own pool) for these settings; ``timeout`` bounds every
    connect and reply, for probes that must answer quickly."""
    from django_rq.connection_utils import get_redis_connection

    config = dict(config or settings_config())
    if timeout is not None:
        limits = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        if "SENTINELS" in config:
            config["SOCKET_TIMEOUT"] = timeout
            config["CONNECTION_KWARGS"] = {**config.get("CONNECTION_KWARGS", {}), **limits}
            config["SENTINEL_KWARGS"] = {**config.get("SENTINEL_KWARGS", {}), **limits}
        else:
            url = config["URL"]
            extra = {"ssl_cert_reqs": "required"} if url.startswith("rediss://") else {}
            return Redis.from_url(url, **limits, **extra)
    return get_redis_connection(config)


_clients: dict[tuple, Redis] = {}


def get_connection() -> Redis:
    """The Redis of the queues: one client and pool per process and configuration (a
    forked child's pool reconnects by itself: redis-py checks the pid). Called on every
    enqueue: a lookup by the settings' values, the config built only the first time."""
    from django.conf import settings

    key = (
        settings.REDIS_URL,
        tuple(settings.REDIS_SENTINELS),
        settings.REDIS_MASTER_NAME,
        settings.REDIS_PASSWORD,
        settings.REDIS_SENTINEL_PASSWORD,
        settings.REDIS_DB,
        settings.REDIS_SSL,
        settings.REDIS_SSL_CA_CERTS,
    )
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = connect(settings_config())
    return client


def describe(connection: Redis | None = None) -> str:
    """Where the queues' Redis is, for messages: ``host:port/db``, or the master's name and
    its sentinels; never a password."""
    pool = (connection or get_connection()).connection_pool
    kwargs = pool.connection_kwargs
    if isinstance(pool, SentinelConnectionPool):
        sentinels = ",".join(
            f"{s.connection_pool.connection_kwargs.get('host')}:"
            f"{s.connection_pool.connection_kwargs.get('port')}"
            for s in pool.sentinel_manager.sentinels
        )
        return f"master {pool.service_name!r} of sentinels {sentinels}/{kwargs.get('db') or 0}"
    where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
    return f"{where}/{kwargs.get('db', 0)}"
