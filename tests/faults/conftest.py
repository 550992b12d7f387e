"""Fault tests stop and start the servers bin/test started for this run."""

import os
import shlex
import subprocess
import time

import pytest

import tests.jobs  # noqa: F401  (the test tasks join this process's registry)
from tests.helpers import wait_until


def _as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture
def postgres_control():
    bindir, data = os.environ["TEST_PG_BINDIR"], os.environ["TEST_PG_DATA"]

    # pg_ctl start needs the options bin/test started the server with (port, socket...).
    with open(f"{data}/postmaster.opts") as opts_file:
        words = shlex.split(opts_file.read())[1:]
    options = " ".join(
        shlex.quote(w) for i, w in enumerate(words) if w != "-D" and (i == 0 or words[i - 1] != "-D")
    )

    class Control:
        def stop(self):
            subprocess.run(
                _as_owner([f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]),
                check=True,
                capture_output=True,
            )

        def start(self):
            subprocess.run(
                _as_owner(
                    [
                        f"{bindir}/pg_ctl",
                        "-D",
                        data,
                        "-w",
                        "-o",
                        options,
                        "-l",
                        f"{data}/../postgres.log",
                        "start",
                    ]
                ),
                check=True,
                capture_output=True,
            )

    control = Control()
    yield control
    control.start() if subprocess.run(
        _as_owner([f"{bindir}/pg_ctl", "-D", data, "status"]), capture_output=True
    ).returncode else None


@pytest.fixture
def redis_control():
    port, directory = os.environ["TEST_REDIS_PORT"], os.environ["TEST_REDIS_DIR"]

    class Control:
        def restart(self, down_for: float = 0.0):
            """Saves to disk, shuts down, stays down ``down_for`` seconds (the outage the
            test is about), starts again on the same data (as a Redis with persistence
            comes back after a restart)."""
            subprocess.run(["redis-cli", "-p", port, "shutdown", "save"], capture_output=True)
            time.sleep(down_for)
            subprocess.run(
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    port,
                    "--dir",
                    directory,
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    f"{directory}/redis.pid",
                    "--logfile",
                    f"{directory}/redis.log",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                check=True,
            )
            ping = ["redis-cli", "-p", port, "ping"]
            wait_until(
                lambda: subprocess.run(ping, capture_output=True).returncode == 0,
                timeout=5,
                interval=0.1,
                what="Redis to come back",
            )

    return Control()
