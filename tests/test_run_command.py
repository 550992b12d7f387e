"""The README's run command, for real, on a fresh clone of the repository: bin/run brings
the whole system up with demo data, shows it at work within 90 s (statistics filled in,
low-stock alerts open, a cash-on-delivery order confirmed by its job), logs quietly once
it has settled, and Ctrl-C stops every process it started, each cleanly."""

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

import httpx
import pytest

from tests.helpers import PROJECT_DIR, free_port, manage_env, wait_until

pytestmark = pytest.mark.slow

SHOWN_WITHIN = 90  # seconds from start
QUIET_LINES_PER_MINUTE = 100
TEN_MINUTES_LINES = 500


@pytest.fixture
def clone(tmp_path):
    """A fresh clone of the committed repository, sharing this checkout's installed .venv
    (the clone's own code is imported: a script's folder comes first on sys.path)."""
    path = tmp_path / "project"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_DIR), str(path)], check=True)
    (path / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return path


def _login(client: httpx.Client) -> None:
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "staff", "password": "bookstore-demo"},
    )
    assert response.status_code == 302, response.text[:500]


def _count(client: httpx.Client, path: str, noun: str) -> int:
    """The row count a changelist shows ("31 daily statistics")."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    found = re.search(rf"(\d+) {noun}\b", page.text)
    return int(found.group(1)) if found else 0


def test_run_shows_the_system_at_work_on_a_fresh_clone_and_stops_cleanly_on_ctrl_c(clone, tmp_path):
    port = free_port()
    env = manage_env(
        DJANGO_SETTINGS_MODULE=None,  # the real settings, as a newcomer gets them
        DATABASE_URL=None,  # the embedded default: SQLite in the clone
        RUN_DIR=None,
        WEB_PORT=str(port),
        BIND="0.0.0.0",  # every interface: the site must answer to this machine's names too
        ALLOWED_HOSTS=None,
        REDIS_URL=None,  # bin/run starts a Redis of its own, and stops it on Ctrl-C
        BOOKSTORE_REDIS_PORT=str(free_port()),
        SECRET_KEY=None,
        DEBUG=None,
        METRICS_TOKEN=None,
        SECURE_SSL_REDIRECT=None,
    )
    # A .env copied from .env.example (DEBUG off, HTTPS redirects on, an empty metrics
    # token) must not stop the demo.
    (clone / ".env").write_text((clone / ".env.example").read_text())
    log_path = tmp_path / "run.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed in finally
    started = time.monotonic()
    process = subprocess.Popen(
        ["bin/run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
            wait_until(lambda: _answers(client), timeout=SHOWN_WITHIN, what="the admin login page")
            _login(client)
            # The banner's own address, and the machine's name, are allowed hosts.
            banner = re.search(r"admin \(staff\)\s+(http://\S+)/admin/", log_path.read_text()).group(1)
            assert httpx.get(f"{banner}/admin/login/", timeout=10).status_code == 200
            named = httpx.get(f"{base}/admin/login/", headers={"Host": f"{socket.gethostname()}:{port}"})
            assert named.status_code == 200
            remaining = SHOWN_WITHIN - (time.monotonic() - started)
            wait_until(
                lambda: _count(client, "/admin/stats/dailystatistics/", "daily statistics") >= 28,
                timeout=remaining,
                what="28 days of statistics",
            )
            assert _open_alerts(clone) >= 1  # the hourly check ran at start, not at the next hour
            remaining = SHOWN_WITHIN - (time.monotonic() - started)
            wait_until(
                lambda: _cod_confirmed(clone) >= 1, timeout=max(remaining, 1), what="a COD order confirmed"
            )

        # Settled: after the first minute, under QUIET_LINES_PER_MINUTE lines a minute, and
        # at that rate ten idle minutes write under TEN_MINUTES_LINES in all.
        first_minute_end = started + 60
        time.sleep(max(0.0, first_minute_end - time.monotonic()))
        first_minute = _lines(log_path)
        time.sleep(30)
        per_minute = (_lines(log_path) - first_minute) * 2
        assert per_minute < QUIET_LINES_PER_MINUTE, log_path.read_text()[-5000:]
        assert first_minute + 9 * per_minute < TEN_MINUTES_LINES, (first_minute, per_minute)
        # The alert e-mails went to files, not over the terminal.
        assert len(list((clone / "run" / "mail").iterdir())) >= 1

        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0 or process.returncode in (130, -2)
        leftovers = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout
        assert leftovers.strip() == "", f"processes left running: {leftovers}"
        # honcho's children have process groups of their own: none may outlive it either.
        wait_until(lambda: not _started_in(clone), timeout=10, what="every demo process to end")
    except BaseException:
        # What the demo printed, for the failure report (the tmp folder may be gone later).
        print(f"--- the last 80 lines of {log_path} ---")
        print("\n".join(log_path.read_text(errors="replace").splitlines()[-80:]))
        raise
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C: honcho stops its children
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        _kill_everything_started_in(clone)  # whatever a failure left (honcho's children, Redis)
        log.close()
    output = log_path.read_text()
    assert "login: staff / bookstore-demo" in output
    assert "starting Redis on 127.0.0.1" in output
    assert "\x1b[" not in output  # no terminal escape codes in a file
    for name in ("web.1", "worker.1", "scheduler.1"):
        assert f"{name} stopped (rc=0)" in output, output[-3000:]
    # The demo's settings are where bin/manage reads them, out of git's sight.
    demo_env = (clone / "run" / "demo.env").read_text()
    assert "DEBUG=true" in demo_env and "SECURE_SSL_REDIRECT=false" in demo_env
    ignored = subprocess.run(["git", "check-ignore", "run/demo.env"], cwd=clone, capture_output=True)
    assert ignored.returncode == 0


def _started_in(folder) -> list[int]:
    """Processes whose working directory is in ``folder``: the demo's processes run in
    the clone, and its Redis in run/redis under it."""
    root, found = str(folder), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + "/"):
            found.append(int(entry))
    return found


def _kill_everything_started_in(folder) -> None:
    for pid in _started_in(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/admin/login/").status_code == 200
    except httpx.HTTPError:
        return False


def _query(clone, sql: str) -> int:
    with sqlite3.connect(clone / "db.sqlite3", timeout=5) as db:
        return db.execute(sql).fetchone()[0]


def _open_alerts(clone) -> int:
    return _query(clone, "SELECT COUNT(*) FROM inventory_lowstockalert WHERE resolved_at IS NULL")


def _cod_confirmed(clone) -> int:
    return _query(
        clone,
        "SELECT COUNT(*) FROM orders_orderstatushistory WHERE note = 'Auto-confirmed COD order'",
    )


def _lines(path) -> int:
    return path.read_text(errors="replace").count("\n")
