"""The README's run command, for real: bin/run brings the site up with demo data, and
Ctrl-C stops every process it started."""

import os
import re
import signal
import subprocess

import httpx
import pytest

from tests.helpers import PROJECT_DIR, free_port, manage_env, wait_until

pytestmark = pytest.mark.slow


def test_run_serves_the_admin_with_demo_orders_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = manage_env(
        DJANGO_SETTINGS_MODULE=None,  # the real settings, as an operator gets them
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        RUN_DIR=str(tmp_path / "run"),
        WEB_PORT=str(port),
        # No REDIS_URL: bin/run starts a Redis of its own, and stops it on Ctrl-C.
        REDIS_URL=None,
        BOOKSTORE_REDIS_PORT=str(free_port()),
        SECRET_KEY=None,
        DEBUG=None,
    )
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        ["bin/run"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/admin/login/"), timeout=120, what="the admin login page")
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
            login_page = client.get("/admin/login/")
            assert login_page.status_code == 200
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
            response = client.post(
                "/admin/login/?next=/admin/orders/order/",
                data={"csrfmiddlewaretoken": token, "username": "staff", "password": "bookstore-demo"},
            )
            assert response.status_code == 302, response.text[:500]
            orders_page = client.get("/admin/orders/order/")
            assert orders_page.status_code == 200
            assert "10000 orders" in orders_page.text
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0 or process.returncode in (130, -2)
        leftovers = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout
        assert leftovers.strip() == "", f"processes left running: {leftovers}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert "login: staff / bookstore-demo" in output
    assert "worker.1 started" in output
    assert "starting Redis on 127.0.0.1" in output
    assert (tmp_path / "run" / "redis" / "redis.log").exists()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
