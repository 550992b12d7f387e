"""Request metrics that add up across gunicorn workers: a real Prometheus (Debian's
``prometheus``) scrapes a real ``gunicorn --workers 3``, started as the deploy files
start it (``-c python:bookstore.gunicorn_conf``), every second for 60 s under load,
while the workers recycle (``--max-requests``)."""

import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.helpers import PROJECT_DIR, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN = "test-only-metrics-token"
LOAD_SECONDS = 60
COUNTERS = (
    "django_http_requests_before_middlewares_total",
    "django_http_requests_total_by_view_transport_method_total",
    "django_http_responses_total_by_status_total",
    "django_db_execute_total",
)
REQUESTS = 'django_http_requests_total_by_view_transport_method_total{view="health",method="GET"}'


def _serving(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False


@pytest.fixture
def gunicorn(child_env, tmp_path):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                str(PROJECT_DIR / ".venv" / "bin" / "gunicorn")
                if (PROJECT_DIR / ".venv" / "bin" / "gunicorn").exists()
                else f"{sys.prefix}/bin/gunicorn",
                "-c", "python:bookstore.gunicorn_conf",
                "bookstore.wsgi",
                "--bind", f"127.0.0.1:{port}",
                "--workers", "3",
                # Workers recycle several times during the test: without multiprocess
                # metrics every recycle would be a counter reset.
                "--max-requests", "150",
                "--max-requests-jitter", "30",
            ],
            cwd=PROJECT_DIR,
            env={
                **{k: v for k, v in child_env.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
                "METRICS_TOKEN": TOKEN,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _serving(f"{url}/health"), timeout=30, what="gunicorn")
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def prometheus(gunicorn, tmp_path):
    target = gunicorn[0].removeprefix("http://")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: bookstore\n"
        "    metrics_path: /metrics\n"
        f"    authorization:\n      credentials: {TOKEN}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    with open(tmp_path / "prometheus.log", "w") as out:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: _up(api), timeout=30, what="Prometheus to scrape gunicorn")
        yield api
    finally:
        process.terminate()
        process.wait(timeout=30)


def _up(api: str) -> bool:
    try:
        return query(api, "up") == 1.0
    except (httpx.HTTPError, IndexError, KeyError):
        return False


def query(api: str, expression: str, at: float | None = None) -> float:
    params = {"query": expression, **({"time": f"{at:.3f}"} if at else {})}
    body = httpx.get(f"{api}/query", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return float(body["data"]["result"][0]["value"][1])


def test_prometheus_sees_one_growing_counter_across_gunicorn_workers(gunicorn, prometheus):
    url, log = gunicorn
    done: list[float] = []  # when each request was answered
    stop = threading.Event()

    def load():
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                if http.get(f"{url}/health").status_code in (200, 503):
                    done.append(time.time())
                time.sleep(0.02)

    threads = [threading.Thread(target=load) for _ in range(2)]
    start = time.time()
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    end = time.time()
    time.sleep(2)  # the last scrapes

    window = 40  # seconds, well inside the load
    at = end - 5
    sent = sum(1 for t in done if at - window < t <= at) / window
    measured = query(prometheus, f"sum(rate({REQUESTS}[{window}s]))", at=at)
    resets = sum(query(prometheus, f"sum(resets({counter}[2m]))") for counter in COUNTERS)
    restarts = log.read_text().count("Autorestarting worker")
    print(
        f"\ngunicorn --workers 3, {len(done)} requests in {end - start:.0f} s, {restarts} worker restarts: "
        f"rate() {measured:.2f}/s against {sent:.2f}/s sent; {resets:.0f} counter resets"
    )
    assert restarts >= 3, "the workers should have recycled during the test"
    assert resets == 0
    assert abs(measured - sent) <= 0.10 * sent, f"rate() {measured:.2f}/s, sent {sent:.2f}/s"
