"""bin/manage: manage.py in a second terminal sees exactly the demo's settings
(run/demo.env, written by bin/run), whatever the shell has."""

import subprocess

from tests.helpers import PROJECT_DIR, manage_env

PRINT = (
    "from django.conf import settings as s; "
    "print(s.DEBUG, s.COD_AUTO_CONFIRM_DELAY, s.REDIS_URL, s.SECRET_KEY)"
)


def test_bin_manage_runs_with_the_demo_settings(tmp_path):
    (tmp_path / "demo.env").write_text(
        "# Written by bin/run\n"
        "DEBUG=true\n"
        "SECRET_KEY=demo-key-with=equals\n"
        "REDIS_URL=redis://127.0.0.1:6390/0\n"
        "COD_AUTO_CONFIRM_DELAY=120\n"
    )
    env = manage_env(
        RUN_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE=None, COD_AUTO_CONFIRM_DELAY="3600", DEBUG="false"
    )
    result = subprocess.run(
        ["bin/manage", "shell", "--verbosity=0", "-c", PRINT],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "120", "redis://127.0.0.1:6390/0", "demo-key-with=equals"]


def test_bin_manage_without_a_running_demo_says_what_to_do(tmp_path):
    result = subprocess.run(
        ["bin/manage", "check"],
        cwd=PROJECT_DIR,
        env=manage_env(RUN_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{tmp_path}/demo.env not found: start the demo with bin/run first" in result.stderr
