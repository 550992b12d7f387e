"""Two of rq's helpers, made fast without changing what they return (issue 14).

Every job a worker takes becomes an rq ``Job`` (and every success a ``Result``); rq
builds each with

* ``resolve_serializer``: an ``isinstance`` check against a ``runtime_checkable``
  Protocol, which Python 3.11 answers by walking the Protocol's attributes three times
  (6 us);
* ``utcparse`` for each of the job's 4 or 5 dates: ``datetime.strptime`` (4 us each).

Together about 30 us of a no-op job's 300 us of worker CPU (``bin/bench profile_worker``).
``install()`` puts in their place, in the rq modules that call them:

* ``resolve_serializer``: JSONSerializer, the one serializer this project writes and
  reads (worker/runtime.py, worker/queues.py), is answered at once; anything else goes to
  rq's own function;
* ``utcparse``: ``datetime.fromisoformat`` (0.1 us), which reads rq's two formats,
  ``2026-12-01T02:00:00.123456Z`` and the older ``2026-12-01T02:00:00Z``; a string it
  does not read goes to rq's own function, which raises as before.

Both return what rq's functions return (``worker/tests/test_rq_speedups.py`` compares
them), and ``worker/tests/test_rq_contract.py`` fails if rq moves either.
"""

from __future__ import annotations

import datetime

import rq.job
import rq.queue
import rq.registry
import rq.results
import rq.serializers
import rq.utils
from rq.serializers import JSONSerializer

_rq_resolve_serializer = rq.serializers.resolve_serializer
_rq_utcparse = rq.utils.utcparse
_UTC = datetime.UTC


def resolve_serializer(serializer=None):
    if serializer is JSONSerializer:
        return JSONSerializer
    return _rq_resolve_serializer(serializer)


def utcparse(string: str) -> datetime.datetime:
    if len(string) in (20, 27) and string[10] == "T" and string[-1] == "Z":  # rq's two formats
        try:
            return datetime.datetime.fromisoformat(string[:-1]).replace(tzinfo=_UTC)
        except ValueError:
            pass
    return _rq_utcparse(string)


# Where rq calls them: each module imported the function by name.
RESOLVE_SERIALIZER_USERS = (rq.job, rq.results, rq.registry, rq.queue)
UTCPARSE_USERS = (rq.utils,)  # str_to_date, which Job.restore and Result.restore call


def install() -> None:
    for module in RESOLVE_SERIALIZER_USERS:
        module.resolve_serializer = resolve_serializer
    for module in UTCPARSE_USERS:
        module.utcparse = utcparse
