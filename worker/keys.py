"""Every Redis key the project reads or writes by name, in one place.

Ours are under ``bookstore:``. rq's are listed with the formats this project assumes
when it reads them directly (in one pipeline, or from a Lua script);
``worker/tests/test_rq_contract.py`` fails loudly if rq ever names them otherwise.
"""

# --- ours ------------------------------------------------------------------------------
METRICS_ENQUEUED = "bookstore:metrics:enqueued"  # hash "task|queue" -> count
METRICS_PROCESSED = "bookstore:metrics:processed"  # hash "task|status" -> count
METRICS_DURATION = "bookstore:metrics:duration:{}"  # hash per task: bucket -> count, "sum"
SCHEDULER_LOCK = "bookstore:scheduler:lock"
SCHEDULER_LAST_FIRE = "bookstore:scheduler:last_fire"
SCHEDULER_HEARTBEAT = "bookstore:scheduler:heartbeat"
SCHEDULER_INSTANCE = "bookstore:scheduler:instance:{}"
WAKE = "bookstore:wake"  # list of wake-up tokens for idle workers (worker/wake.py)
OUTBOX_REPLICATED = "bookstore:outbox:replicated"  # written before each WAIT of the outbox

# --- rq's (rq 2.12) ------------------------------------------------------------------------
RQ_QUEUE = "rq:queue:{}"
RQ_INTERMEDIATE = "rq:queue:{}:intermediate"
RQ_JOB_PREFIX = "rq:job:"
RQ_JOB = RQ_JOB_PREFIX + "{}"
RQ_WORKER = "rq:worker:{}"
RQ_WORKERS = "rq:workers"
RQ_QUEUES = "rq:queues"  # set of the queue keys in use
RQ_SUSPENDED = "rq:suspended"  # set by rqsuspend
RQ_STARTED = "rq:wip:{}"  # sorted set of "job_id:execution_id" scored by heartbeat deadline
RQ_SCHEDULED = "rq:scheduled:{}"
RQ_FAILED = "rq:failed:{}"
RQ_FINISHED = "rq:finished:{}"
