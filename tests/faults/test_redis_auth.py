"""REDIS_URL with a password is honoured by web, worker and scheduler, and the password
never reaches a log."""

import subprocess

import pytest

from tests.helpers import free_port, wait_until
from worker.queues import enqueue, get_connection

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Zq8vR3kT1xY6"


@pytest.fixture
def protected_redis(tmp_path):
    port = free_port()
    subprocess.run(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--dir",
            str(tmp_path),
            "--daemonize",
            "yes",
            "--pidfile",
            str(tmp_path / "redis.pid"),
        ],
        check=True,
    )
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    wait_until(
        lambda: (
            subprocess.run(
                ["redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", "ping"],
                capture_output=True,
            ).returncode
            == 0
        ),
        timeout=10,
        what="redis",
    )
    yield url, port
    subprocess.run(["redis-cli", "-p", str(port), "-a", PASSWORD, "--no-auth-warning", "shutdown", "nosave"])


def test_worker_and_scheduler_run_against_a_password_protected_redis(
    protected_redis, processes, settings, client
):
    url, port = protected_redis
    settings.REDIS_URL = url
    refused = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
    assert "NOAUTH" in refused.stdout + refused.stderr  # the password is really required
    worker = processes("rqworker", "critical", "high", "default", "low", REDIS_URL=url)
    scheduler = processes("run_scheduler", REDIS_URL=url)
    enqueue("test:stamp", "test:ran", delay=1)
    wait_until(lambda: get_connection().llen("test:ran") == 1, timeout=20, what="the delayed job")
    assert client.get("/health").json()["redis"] == "up"
    for process in (worker, scheduler):
        assert PASSWORD not in process.output()
    bad = processes("rqworker", "default", REDIS_URL=f"redis://:wrong-{PASSWORD[:3]}@127.0.0.1:{port}/0")
    # Refused by Redis for its password (not gone for some other reason), and says so.
    wait_until(lambda: "invalid username-password pair" in bad.output(), timeout=20, what="Redis's refusal")
    assert PASSWORD not in bad.output()


@pytest.fixture
def tls_redis(tmp_path):
    """Redis speaking only TLS, with a self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    subprocess.run(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
            "--daemonize",
            "yes",
            "--save",
            "",
            "--dir",
            str(tmp_path),
            "--pidfile",
            str(tmp_path / "redis.pid"),
        ],
        check=True,
    )
    yield port, cert
    subprocess.run(["kill", (tmp_path / "redis.pid").read_text().strip()], check=False)


def test_rediss_urls_work_with_certificate_checks_on(tls_redis, processes, settings, client):
    import redis

    port, cert = tls_redis
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    wait_until(lambda: _pings(url), timeout=10, what="TLS Redis")
    # Certificate checks are on: without our CA the self-signed certificate is refused.
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(f"rediss://:{PASSWORD}@127.0.0.1:{port}/0").ping()
    settings.REDIS_URL = url
    processes("rqworker", "critical", "high", "default", "low", REDIS_URL=url)
    processes("run_scheduler", REDIS_URL=url)
    enqueue("test:stamp", "test:ran", delay=1)
    wait_until(lambda: get_connection().llen("test:ran") == 1, timeout=20, what="the delayed job over TLS")
    assert client.get("/health").json()["redis"] == "up"


def _pings(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.exceptions.ConnectionError:
        return False  # not listening yet
