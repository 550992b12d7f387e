"""Huey instance of `bin/bench peers`: bench/peer_jobs.py's jobs, on Redis database 3.

    python -m huey.bin.huey_consumer bench.peer_huey.huey -k thread -w 1   (by bench/peers.py)

RedisHuey's defaults: blocking dequeue (BRPOP, 1 s timeout), results stored only when a
task returns something (these return None); no retries.
"""

from huey import RedisHuey

import bench.common  # noqa: F401  (django.setup())
from bench import peer_jobs

huey = RedisHuey("bench-peers", url=peer_jobs.redis_url(peer_jobs.HUEY_DB))

noop = huey.task(name="peers.noop")(peer_jobs.noop)
update_status = huey.task(name="peers.update_status")(peer_jobs.update_status)
io = huey.task(name="peers.io")(peer_jobs.io)
latency = huey.task(name="peers.latency")(peer_jobs.latency)
warmup = huey.task(name="peers.warmup")(peer_jobs.warmup)
