"""Strangers and customers get nothing: every /django-rq/ route (POST included) and the
admin.

Each refusal is asked about objects that exist (a queue, a queued, a started and a failed
job, a result, a worker, a cron scheduler and its job), and each POST carries the form
that makes its view act, so only the staff check can refuse it: a view without the check
would answer 200 or act, never send the visitor to the login page. Staff get the same
URLs answered, and the same POSTs do act, which shows the objects are real and the
"nothing changed" checks able to fail."""

from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.urls import URLPattern, get_resolver, reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# django-rq's API routes take a bearer token or a staff session and answer anyone else 401.
API_ROUTES = {"home_json", "metrics"}
# Every other django-rq route is wrapped in staff_member_required, which sends anyone but
# active staff (anonymous or logged in) to the admin's login page, GET or POST.
ADMIN_LOGIN = "/admin/login/"


@dataclass(frozen=True)
class Route:
    name: str
    url: str
    form: dict  # what a POST sends: the form that makes the view act


@dataclass(frozen=True)
class Dashboard:
    queue_index: int
    queued_job: str
    started_job: str
    routes: list[Route]


# Routes whose POST changes Redis (or, for stop_job, sends a worker a command).
ACTING_ROUTES = {
    "delete_job",
    "requeue_job",
    "enqueue_job",
    "stop_job",
    "clear",
    "requeue_all",
    "delete_failed_jobs",
    "actions",
}


@pytest.fixture
def dashboard(redis_conn) -> Dashboard:
    """Real objects for every dashboard route, made through rq's and django-rq's own
    APIs, and the URL of each route for them."""
    from django_rq.cron import DjangoCronScheduler
    from django_rq.settings import get_queues_map
    from rq import Worker
    from rq.serializers import JSONSerializer

    from orders.tasks import check_pending_orders  # a task without retries: it fails for good
    from worker.queues import get_queue

    queue = get_queue("default")
    queue_index = get_queues_map()["default"]
    path = f"{check_pending_orders.__module__}.{check_pending_orders.__name__}"
    queued, started, failed = (queue.enqueue(path) for _ in range(3))

    # A worker takes two jobs through rq's own worker API: one fails, one is still running.
    worker = Worker([queue], connection=redis_conn, name="dashboard-test", serializer=JSONSerializer)
    worker.register_birth()
    for job in (failed, started):
        queue.remove(job)
        worker.prepare_execution(job)
        worker.prepare_job_execution(job)
        if job is failed:
            worker.handle_job_failure(job, queue, exc_string="RuntimeError: for the dashboard test")
    (result,) = failed.results()
    # django-rq's worker page reads a busy worker's job with rq's default serializer (pickle)
    # and fails on our JSON jobs, so the page is asked about an idle worker.
    idle = Worker([queue], connection=redis_conn, name="dashboard-idle", serializer=JSONSerializer)
    idle.register_birth()

    cron = DjangoCronScheduler(connection=redis_conn, name="dashboard-cron")
    cron_job = cron.register(check_pending_orders, queue_name="default", interval=3600)
    cron.register_birth()

    kwargs = {
        "queue_index": queue_index,
        "job_id": queued.id,
        "result_id": result.id,
        "key": idle.key,
        "scheduler_index": queue_index,
        "connection_index": 0,
        "scheduler_name": cron.name,
        "cron_job_name": cron_job.name or path,
    }
    per_route = {
        # The failed job has the result; the started job is the one a worker can stop.
        "result_detail": {"job_id": failed.id},
        "stop_job": {"job_id": started.id},
        # Requeueing acts on a failed job.
        "requeue_job": {"job_id": failed.id},
    }
    forms = {
        "actions": {"action": "delete", "job_ids": [queued.id]},
        "confirm_action": {"action": "delete", "_selected_action": [queued.id]},
    }
    routes = []
    for name, params in _dashboard_patterns():
        if "token" in params:
            continue  # stats.json/<token>: not served here (see the API token test)
        route_kwargs = {param: {**kwargs, **per_route.get(name, {})}[param] for param in params}
        url = reverse(f"django_rq:{name}", kwargs=route_kwargs)
        routes.append(Route(name, url, forms.get(name, {})))
    return Dashboard(queue_index, queued.id, started.id, routes)


def _dashboard_patterns() -> list[tuple[str, list[str]]]:
    """Every route django-rq's URLconf serves under /django-rq/, as (name, parameters)."""
    patterns = []
    for pattern in get_resolver().url_patterns:
        if not str(pattern.pattern).startswith("django-rq/") or isinstance(pattern, URLPattern):
            continue
        for sub in pattern.url_patterns:
            patterns.append((sub.name, list(sub.pattern.regex.groupindex)))
    return patterns


def redis_state(connection) -> dict:
    """Every key in Redis with its type and whole value."""
    readers = {
        b"string": connection.get,
        b"list": lambda key: connection.lrange(key, 0, -1),
        b"hash": connection.hgetall,
        b"set": connection.smembers,
        b"zset": lambda key: connection.zrange(key, 0, -1, withscores=True),
        b"stream": connection.xrange,
    }
    state = {}
    for key in connection.scan_iter(count=1000):
        kind = connection.type(key)
        state[key] = (kind, readers[kind](key))
    return state


class PublishedCommands:
    """Records what is published to rq's worker command channels (how django-rq stops a
    running job) while it is in use."""

    MARKER = b"end-of-test"

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        self.pubsub = self.connection.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe("rq:pubsub:*")
        self.pubsub.get_message(timeout=1)  # the subscription's confirmation
        return self

    def __exit__(self, *exc_info):
        self.pubsub.close()

    def messages(self) -> list[bytes]:
        """What was published so far: everything received before a marker this call
        publishes itself, which Redis delivers after them."""
        self.connection.publish("rq:pubsub:marker", self.MARKER)
        received = []
        while True:
            message = self.pubsub.get_message(timeout=5)
            assert message is not None, "the marker never came back"
            if message["data"] == self.MARKER:
                return received
            received.append(message["data"])


def assert_sent_to_login(response, url: str) -> None:
    assert response.status_code == 302, (url, response.status_code)
    assert response["Location"] == f"{ADMIN_LOGIN}?next={quote(url)}", (url, response["Location"])


def assert_refused(route: Route, response) -> None:
    if route.name in API_ROUTES:
        assert response.status_code == 401, (route.url, response.status_code)
        assert "Missing bearer token" in response.json()["description"]
    else:
        assert_sent_to_login(response, route.url)


def test_every_dashboard_route_is_covered(dashboard):
    names = {route.name for route in dashboard.routes}
    # A new django-rq route would get no object of its own above: fail until it has one.
    known = API_ROUTES | ACTING_ROUTES | {"home", "jobs", "queue_details", "finished_jobs", "failed_jobs"}
    known |= {"scheduled_jobs", "started_jobs", "deferred_jobs", "job_detail", "result_detail"}
    known |= {"confirm_action", "workers", "worker_details", "scheduler_jobs"}
    known |= {"cron_scheduler_detail", "cron_job_detail"}
    assert names == known


@pytest.mark.parametrize("who", ["anonymous", "customer"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_dashboard_route_is_refused_to_non_staff(client, redis_conn, dashboard, who, method):
    if who == "customer":
        client.force_login(UserFactory())
    before = redis_state(redis_conn)
    with PublishedCommands(redis_conn) as commands:
        for route in dashboard.routes:
            response = client.post(route.url, route.form) if method == "post" else client.get(route.url)
            assert_refused(route, response)
        assert commands.messages() == []  # no worker was told to stop a job
    # Nothing was deleted, requeued, emptied or cleaned up.
    assert redis_state(redis_conn) == before


# What staff get on GET, where it is not the page: the bulk-action routes send a GET back
# to the queue's page, stop_job takes POST only, and the rq-scheduler page fails as
# rq-scheduler is not installed (after the staff check, all the same).
STAFF_GET = {"confirm_action": 302, "actions": 302, "stop_job": 405, "scheduler_jobs": 500}


def test_staff_get_every_dashboard_route_for_these_objects(client, dashboard):
    client.force_login(UserFactory(username="ops-get", is_staff=True))
    client.raise_request_exception = False
    for route in dashboard.routes:
        response = client.get(route.url)
        assert response.status_code == STAFF_GET.get(route.name, 200), (route.url, response.status_code)
        if response.status_code == 302:
            assert response["Location"] == f"/django-rq/queues/{dashboard.queue_index}/"
    # The bulk-action confirmation page lists the real job it was given.
    confirm = next(route for route in dashboard.routes if route.name == "confirm_action")
    response = client.post(confirm.url, confirm.form)
    assert response.status_code == 200 and dashboard.queued_job in response.content.decode()


@pytest.mark.parametrize("name", sorted(ACTING_ROUTES))
def test_the_same_post_from_staff_acts(client, redis_conn, dashboard, name):
    """The control for the refusals: the POST they refuse does act for staff."""
    client.force_login(UserFactory(username="ops-post", is_staff=True))
    route = next(route for route in dashboard.routes if route.name == name)
    before = redis_state(redis_conn)
    with PublishedCommands(redis_conn) as commands:
        response = client.post(route.url, route.form)
        published = commands.messages()
    assert response.status_code == 302 and not response["Location"].startswith(ADMIN_LOGIN)
    if name == "stop_job":
        assert published and dashboard.started_job.encode() in published[0]
    else:
        assert redis_state(redis_conn) != before


def test_the_api_token_is_taken_from_the_header_never_the_url(client, redis_conn, settings):
    settings.RQ_API_TOKEN = "rq-api-token"
    response = client.get("/django-rq/stats.json/rq-api-token/")
    assert response.status_code == 404 and b"queues" not in response.content
    assert client.get("/django-rq/stats.json/").status_code == 401
    assert client.get("/django-rq/stats.json/", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    response = client.get("/django-rq/stats.json/", HTTP_AUTHORIZATION="Bearer rq-api-token")
    assert response.status_code == 200 and "queues" in response.json()


def test_staff_see_the_dashboard(client, redis_conn):
    client.force_login(UserFactory(username="ops", is_staff=True))
    assert client.get("/django-rq/").status_code == 200


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_the_admin_refuses_strangers(client, who):
    from inventory.models import LowStockAlert
    from inventory.tests.factories import LowStockAlertFactory
    from orders.tests.factories import OrderFactory

    if who == "customer":
        client.force_login(UserFactory())
    order = OrderFactory()
    alert = LowStockAlertFactory()
    change = reverse("admin:orders_order_change", args=[order.pk])
    alerts = reverse("admin:inventory_lowstockalert_changelist")
    for url in ["/admin/", "/admin/orders/order/", "/admin/inventory/warehouseinventory/", change, alerts]:
        assert_sent_to_login(client.get(url), url)
        assert_sent_to_login(client.post(url), url)
    # The action staff use to resolve an alert (tests/test_admin.py), on a real alert.
    response = client.post(alerts, {"action": "resolve", "_selected_action": [alert.pk]})
    assert_sent_to_login(response, alerts)
    assert LowStockAlert.objects.get(pk=alert.pk).resolved_at is None


def test_the_dashboard_can_be_removed(client, settings):
    from importlib import reload

    from django.urls import clear_url_caches

    import bookstore.urls

    settings.RQ_DASHBOARD_ENABLED = False
    try:
        reload(bookstore.urls)
        clear_url_caches()
        client.force_login(UserFactory(username="ops2", is_staff=True))
        assert client.get("/django-rq/").status_code == 404
    finally:
        settings.RQ_DASHBOARD_ENABLED = True
        reload(bookstore.urls)
        clear_url_caches()


def test_the_dashboard_lists_a_pickled_intruder_without_unpickling_it(client, redis_conn, tmp_path):
    import pickle

    from django_rq.settings import get_queues_map
    from rq import Queue

    marker = tmp_path / "unpickled"

    class Exploit:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    payload = pickle.dumps(Exploit())  # runs `touch` the moment anything unpickles it
    Queue("default", connection=redis_conn).enqueue("os.system", "true", job_id="pickled-intruder")
    redis_conn.hset("rq:job:pickled-intruder", "data", payload)
    client.force_login(UserFactory(username="ops3", is_staff=True))
    index = get_queues_map()["default"]
    response = client.get(f"/django-rq/queues/{index}/")
    assert response.status_code == 200
    assert "pickled-intruder" in response.content.decode()
    assert client.get(f"/django-rq/queues/{index}/pickled-intruder/").status_code == 200
    assert not marker.exists()
