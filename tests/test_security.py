"""Strangers and customers get nothing: every /django-rq/ route (POST included), the
admin, and /metrics when a token is set."""

import pytest
from django.urls import URLPattern, get_resolver

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DUMMY = {"queue_index": 0, "job_id": "x", "result_id": "1-0", "key": "x", "scheduler_index": 0,
         "connection_index": 0, "scheduler_name": "x", "cron_job_name": "x"}  # fmt: skip


def dashboard_urls() -> list[str]:
    from django.urls import reverse

    resolver = get_resolver()
    urls = []
    for pattern in resolver.url_patterns:
        if not str(pattern.pattern).startswith("django-rq/") or isinstance(pattern, URLPattern):
            continue
        for sub in pattern.url_patterns:
            params = sub.pattern.regex.groupindex
            kwargs = {name: DUMMY.get(name, "x") for name in params}
            if "token" in kwargs:
                continue
            urls.append(reverse(f"django_rq:{sub.name}", kwargs=kwargs))
    return sorted(set(urls))


def refused(response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    return response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("who", ["anonymous", "customer"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_dashboard_route_is_refused_to_non_staff(client, redis_conn, who, method):
    if who == "customer":
        client.force_login(UserFactory())
    urls = dashboard_urls()
    assert len(urls) >= 20
    for url in urls:
        response = getattr(client, method)(url)
        assert refused(response), (method, url, response.status_code)


def test_the_api_token_is_taken_from_the_header_never_the_url(client, redis_conn, settings):
    settings.RQ_API_TOKEN = "rq-api-token"
    assert client.get("/django-rq/stats.json/rq-api-token/").status_code == 404
    assert client.get("/django-rq/stats.json/").status_code != 200
    response = client.get("/django-rq/stats.json/", HTTP_AUTHORIZATION="Bearer rq-api-token")
    assert response.status_code == 200 and "queues" in response.json()


def test_staff_see_the_dashboard(client, redis_conn):
    client.force_login(UserFactory(username="ops", is_staff=True))
    assert client.get("/django-rq/").status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_admin_refuses_strangers(client, method):
    for url in ["/admin/", "/admin/orders/order/", "/admin/inventory/warehouseinventory/"]:
        assert refused(getattr(client, method)(url)), url


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
    index = sorted(["critical", "default", "high", "low"]).index("default")
    response = client.get(f"/django-rq/queues/{index}/")
    assert response.status_code == 200
    assert "pickled-intruder" in response.content.decode()
    assert client.get(f"/django-rq/queues/{index}/pickled-intruder/").status_code in (200, 404)
    assert not marker.exists()
