"""Dramatiq broker of `bin/bench peers`: bench/peer_jobs.py's jobs, on Redis database 2.

    python -m dramatiq bench.peer_dramatiq --processes 2 --threads 8   (by bench/peers.py)

Dramatiq's default middleware (age and time limits, retries, callbacks, pipelines); no
results backend; no retries, like the other systems' benchmark jobs.
"""

import dramatiq
from dramatiq.brokers.redis import RedisBroker

import bench.common  # noqa: F401  (django.setup())
from bench import peer_jobs

broker = RedisBroker(url=peer_jobs.redis_url(peer_jobs.DRAMATIQ_DB))
dramatiq.set_broker(broker)


def _actor(function, name: str):
    return dramatiq.actor(function, actor_name=f"peers_{name}", queue_name="bench-peers", max_retries=0)


noop = _actor(peer_jobs.noop, "noop")
update_status = _actor(peer_jobs.update_status, "update_status")
io = _actor(peer_jobs.io, "io")
latency = _actor(peer_jobs.latency, "latency")
warmup = _actor(peer_jobs.warmup, "warmup")
