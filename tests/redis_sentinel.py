"""A real Redis Sentinel deployment for tests: a master, a replica and three sentinels
(Debian's ``redis-sentinel``), each its own process on a free loopback port."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.helpers import free_port, wait_until

MASTER_NAME = "bookstore"


class SentinelDeployment:
    def __init__(self, directory: Path, *, down_after_ms: int = 1000):
        self.directory = directory
        self.down_after_ms = down_after_ms
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self._processes: dict[str, subprocess.Popen] = {}

    # --- environment for the processes under test -----------------------------------

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", port) for port in self.sentinel_ports]

    @property
    def env(self) -> dict[str, str]:
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_MASTER_NAME": MASTER_NAME,
        }

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> SentinelDeployment:
        self._server("master", self.master_port)
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for number, port in enumerate(self.sentinel_ports):
            config = self.directory / f"sentinel-{number}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._spawn(f"sentinel-{number}", ["redis-sentinel", str(config)])
        wait_until(
            self._ready, timeout=30, interval=0.2, what="the sentinels to see the replica and each other"
        )
        return self

    def stop(self) -> None:
        for process in self._processes.values():
            process.send_signal(signal.SIGCONT)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def kill(self, name: str) -> float:
        """SIGKILL, as a crashed host; returns the moment (time.time())."""
        self._processes[name].kill()
        self._processes[name].wait(timeout=10)
        return time.time()

    def pause(self, name: str) -> None:
        """SIGSTOP: the process keeps its connections but answers nothing (a hung host)."""
        self._processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self._processes[name].send_signal(signal.SIGCONT)

    def master_port_now(self) -> int:
        """The master's port as a majority of sentinels report it."""
        ports = []
        for port in self.sentinel_ports:
            try:
                ports.append(int(self.sentinel(port).sentinel_get_master_addr_by_name(MASTER_NAME)[1]))
            except redis.RedisError:
                continue
        return max(set(ports), key=ports.count) if ports else 0

    @staticmethod
    def sentinel(port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    @staticmethod
    def server(port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    # --- helpers ------------------------------------------------------------------------

    def _server(self, name: str, port: int, *extra: str) -> None:
        self._spawn(
            name,
            [
                "redis-server",
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(self.directory),
                "--dbfilename", f"{name}.rdb",
                "--save", "",
                "--appendonly", "no",
                "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0",
                *extra,
            ],
        )  # fmt: skip

    def _spawn(self, name: str, args: list[str]) -> None:
        with open(self.directory / f"{name}.log", "w") as log:
            self._processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def _ready(self) -> bool:
        try:
            if self.server(self.replica_port).info("replication").get("master_link_status") != "up":
                return False
            for port in self.sentinel_ports:
                state = self.sentinel(port).sentinel_master(MASTER_NAME)
                if state["num-slaves"] < 1 or state["num-other-sentinels"] < 2:
                    return False
        except redis.RedisError:
            return False
        return True
