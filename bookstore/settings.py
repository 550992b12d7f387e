"""Settings of the bookstore's background-job system.

Every deployment difference comes from the environment through one ``environ.Env``;
``.env.example`` lists each variable with its default and meaning. A ``.env`` file in
the project folder is read when present (the run command writes one for the demo).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from worker.connection import connection_config, parse_sentinels
from worker.registry import QUEUE_NAMES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

MISSING_SECRET_KEY = (
    "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random string "
    "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=true for local development."
)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(MISSING_SECRET_KEY)
    # Local development only: DEBUG is on, so this never serves real traffic.
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

# --- HTTPS (Django's deployment checklist). Safe defaults when DEBUG is off; behind a
# TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_ENABLED=true.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /health and /metrics are probed over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # First, so its runserver (a clean stop on SIGTERM) overrides staticfiles' own.
    "bookstore",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "django_rq",
    "worker",
    "inventory",
    "carts",
    "orders",
    "stats",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "bookstore.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "bookstore.wsgi.application"

# --- Database -------------------------------------------------------------------------
# PostgreSQL in production; a SQLite file in the project folder is the local default.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share the demo file: WAL lets readers and one writer
    # work at once, IMMEDIATE takes the write lock up front so transactions queue
    # (busy timeout) instead of failing with "database is locked" mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
        "django.db.backends.postgresql", "django_prometheus.db.backends.postgresql"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Ho_Chi_Minh")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "run" / "static"

# --- E-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Where django.core.mail.backends.filebased.EmailBackend writes (the demo: run/mail).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "run" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="bookstore@localhost")
LOW_STOCK_ALERT_EMAILS = env.list("LOW_STOCK_ALERT_EMAILS", default=["warehouse@localhost"])

# --- Redis and queues -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis Sentinel (high availability): when REDIS_SENTINELS is set it wins over REDIS_URL,
# for every process and path (worker/connection.py). TLS: REDIS_SSL, certificates checked.
REDIS_MASTER_NAME = env.str("REDIS_MASTER_NAME", default="")
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="")
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")
REDIS_DB = env.int("REDIS_DB", default=0)
REDIS_SSL = env.bool("REDIS_SSL", default=False)
REDIS_SSL_CA_CERTS = env.str("REDIS_SSL_CA_CERTS", default="")
try:
    REDIS_SENTINELS = parse_sentinels(env.str("REDIS_SENTINELS", default=""))
    REDIS_CONNECTION = connection_config(
        url=REDIS_URL,
        sentinels=REDIS_SENTINELS,
        master_name=REDIS_MASTER_NAME,
        password=REDIS_PASSWORD,
        sentinel_password=REDIS_SENTINEL_PASSWORD,
        db=REDIS_DB,
        ssl=REDIS_SSL,
        ssl_ca_certs=REDIS_SSL_CA_CERTS,
    )
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
# A job enqueued through the outbox leaves it only once this many replicas have it
# (Redis WAIT), so a failover cannot lose it: 1 with Sentinel, 0 (no wait) otherwise.
REDIS_WAIT_REPLICAS = env.int("REDIS_WAIT_REPLICAS", default=1 if REDIS_SENTINELS else 0)
REDIS_WAIT_TIMEOUT_MS = env.int("REDIS_WAIT_TIMEOUT_MS", default=1000)

# Queue name -> weight, for each queue of QUEUE_NAMES (the one list of queues), from
# WORKER_QUEUES_<NAME>_PRIORITY. A worker listening on all four takes jobs in about
# these proportions, 10:5:3:1 by default, so ``low`` never starves (docs/design.md, Queues).
WORKER_QUEUE_WEIGHTS = {
    name: env.int(f"WORKER_QUEUES_{name.upper()}_PRIORITY", default=weight)
    for name, weight in zip(QUEUE_NAMES, (10, 5, 3, 1), strict=True)
}
# Threads in each working process, each taking and running jobs with its own database
# connection (docs/worker.md, Concurrency); 1 runs one job at a time in the process.
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=8)
if WORKER_CONCURRENCY < 1:
    raise ImproperlyConfigured(f"WORKER_CONCURRENCY must be 1 or more, not {WORKER_CONCURRENCY}")
# Seconds past its timeout after which a thread's job that no exception could end (blocked
# in C) makes its process finish its other jobs and make way for a fresh one.
WORKER_STUCK_JOB_GRACE = env.int("WORKER_STUCK_JOB_GRACE", default=30)
# Seconds a worker's registration lives without a heartbeat (rq's default is 420).
WORKER_TTL = env.int("WORKER_TTL", default=30)
# Seconds between a worker's heartbeats, idle or during a job.
WORKER_HEARTBEAT_INTERVAL = env.int("WORKER_HEARTBEAT_INTERVAL", default=5)
# Seconds past a missed heartbeat after which a running job counts as abandoned.
WORKER_HEARTBEAT_GRACE = env.int("WORKER_HEARTBEAT_GRACE", default=25)
# Seconds between registry clean-ups (abandoned jobs are retried then).
WORKER_MAINTENANCE_INTERVAL = env.int("WORKER_MAINTENANCE_INTERVAL", default=30)
# A worker process is replaced by a fresh one after this many jobs (0: never) or above
# this resident memory (0: no limit), so a leaking job cannot grow it for ever.
WORKER_MAX_JOBS = env.int("WORKER_MAX_JOBS", default=50_000)
WORKER_MAX_RSS_MB = env.int("WORKER_MAX_RSS_MB", default=400)
# Extra modules whose tasks join the registry (benchmarks and tests register theirs so).
EXTRA_TASK_MODULES = env.list("EXTRA_TASK_MODULES", default=[])

# How long finished and failed jobs stay in Redis (seconds): bounded memory.
RQ_RESULT_TTL = env.int("RQ_RESULT_TTL", default=3600)
RQ_FAILURE_TTL = env.int("RQ_FAILURE_TTL", default=7 * 24 * 3600)

RQ_QUEUES = {
    name: {
        **REDIS_CONNECTION,
        "DEFAULT_TIMEOUT": 300,
        "DEFAULT_RESULT_TTL": RQ_RESULT_TTL,
        # JSON, never pickle: nothing we read back from Redis can run code.
        "SERIALIZER": "rq.serializers.JSONSerializer",
    }
    for name in WORKER_QUEUE_WEIGHTS
}
RQ = {
    # The plain `rqworker critical high default low` gets our worker (worker/runtime.py).
    "WORKER_CLASS": "worker.runtime.BookstoreWorker",
    "JOB_CLASS": "worker.jobs.RegisteredJob",
    # Every push of a job onto a queue, through any of rq's paths, wakes an idle worker.
    "QUEUE_CLASS": "worker.wake.WakingQueue",
    # Jobs enqueued inside a transaction go to Redis only when it commits, so a worker
    # never sees a row that does not exist yet, and a rollback enqueues nothing.
    "COMMIT_MODE": "on_db_commit",
    "DEFAULT_RESULT_TTL": RQ_RESULT_TTL,
}
RQ_API_TOKEN = env.str("RQ_API_TOKEN", default="")
RQ_DASHBOARD_ENABLED = env.bool("RQ_DASHBOARD_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
MISSING_METRICS_TOKEN = (
    "METRICS_TOKEN is not set. With DEBUG off, /metrics answers only "
    "'Authorization: Bearer <METRICS_TOKEN>': set it to a long random string."
)
if not DEBUG and not METRICS_TOKEN:
    raise ImproperlyConfigured(MISSING_METRICS_TOKEN)

# --- Jobs -----------------------------------------------------------------------------
PENDING_ORDER_CHECK_INTERVAL = env.int("PENDING_ORDER_CHECK_INTERVAL", default=5)  # seconds
PENDING_ORDER_STALE_AFTER = env.int("PENDING_ORDER_STALE_AFTER", default=24 * 3600)  # seconds
COD_AUTO_CONFIRM_DELAY = env.int("COD_AUTO_CONFIRM_DELAY", default=3600)  # seconds
# Outbox rows sent per relay transaction and Redis pipeline (worker/outbox.py).
OUTBOX_RELAY_BATCH = env.int("OUTBOX_RELAY_BATCH", default=1000)
STATS_CATCH_UP_DAYS = env.int("STATS_CATCH_UP_DAYS", default=7)
# The nightly stats:daily run also recomputes this many days before yesterday, so their
# rows follow later completions and cancellations.
STATS_REFRESH_DAYS = env.int("STATS_REFRESH_DAYS", default=14)
# Seconds the scheduler's leader lock lives unless renewed: a standby takes over within it.
SCHEDULER_LOCK_TTL = env.int("SCHEDULER_LOCK_TTL", default=15)
# Longest sleep of the leader between two turns (seconds): delayed jobs are moved this often.
SCHEDULER_POLL_INTERVAL = env.float("SCHEDULER_POLL_INTERVAL", default=0.5)

WAREHOUSE_GATEWAY = env.str("WAREHOUSE_GATEWAY", default="null")
WAREHOUSE_API_URL = env.str("WAREHOUSE_API_URL", default="")
WAREHOUSE_API_TOKEN = env.str("WAREHOUSE_API_TOKEN", default="")
WAREHOUSE_API_TIMEOUT = env.float("WAREHOUSE_API_TIMEOUT", default=5.0)  # seconds

# --- Logging --------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
if LOG_FORMAT not in ("console", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'console' or 'json', not {LOG_FORMAT!r}")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
RQ_LOG_LEVEL = env.str("RQ_LOG_LEVEL", default="WARNING")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
        "json": {"()": "bookstore.logs.JsonFormatter"},
    },
    "filters": {"one_line_per_job": {"()": "worker.outcome.OneLinePerJob"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # rq logs every job twice at INFO; our worker logs one line per outcome.
        "rq.worker": {"level": RQ_LOG_LEVEL, "filters": ["one_line_per_job"]},
        # rq's clean-up logs a second line for each abandoned job; worker.jobs logs one.
        "rq.registry": {"level": "ERROR"},
        "django.db.backends": {"level": "INFO"},
    },
}
