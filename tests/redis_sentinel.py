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
    def __init__(
        self,
        directory: Path,
        *,
        down_after_ms: int = 1000,
        password: str = "",
        sentinel_password: str = "",
        tls: bool = False,
    ):
        """``password``: master's and replica's (``requirepass``), ``sentinel_password``:
        the sentinels' own; ``tls``: every server and sentinel speaks only TLS, with a
        self-signed certificate for 127.0.0.1 (``self.ca``)."""
        self.directory = directory
        self.password = password
        self.sentinel_password = sentinel_password
        self.ca = directory / "ca.pem" if tls else None
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
        env = {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_MASTER_NAME": MASTER_NAME,
        }
        if self.password:
            env["REDIS_PASSWORD"] = self.password
        if self.sentinel_password:
            env["REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        if self.ca:
            env.update(REDIS_SSL="true", REDIS_SSL_CA_CERTS=str(self.ca))
        return env

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> SentinelDeployment:
        if self.ca:
            self._make_certificate()
        self._server("master", self.master_port)
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for number, port in enumerate(self.sentinel_ports):
            lines = [
                *self._listen(port),
                f"dir {self.directory}",
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2",
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}",
                f"sentinel failover-timeout {MASTER_NAME} 10000",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
            ]
            if self.password:
                lines.append(f"sentinel auth-pass {MASTER_NAME} {self.password}")
            if self.sentinel_password:
                lines += [
                    f"requirepass {self.sentinel_password}",
                    f"sentinel sentinel-pass {self.sentinel_password}",
                ]
            config = self.directory / f"sentinel-{number}.conf"
            config.write_text("\n".join(lines) + "\n")
            self._spawn(f"sentinel-{number}", ["redis-sentinel", str(config)])
        try:
            wait_until(self._ready, timeout=30, what="the sentinels to see the replica and each other")
        except BaseException:
            self.stop()  # nothing left running when the set-up fails
            raise
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

    def sentinel(self, port: int) -> redis.Redis:
        return self._client(port, self.sentinel_password)

    def server(self, port: int) -> redis.Redis:
        return self._client(port, self.password)

    def _client(self, port: int, password: str) -> redis.Redis:
        tls = {"ssl": True, "ssl_ca_certs": str(self.ca)} if self.ca else {}
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            password=password or None,
            socket_timeout=2,
            decode_responses=True,
            **tls,
        )

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    # --- helpers ------------------------------------------------------------------------

    def _listen(self, port: int) -> list[str]:
        """Configuration lines: where to listen, and TLS if asked for."""
        if not self.ca:
            return [f"port {port}", "bind 127.0.0.1"]
        return [
            "port 0",
            f"tls-port {port}",
            "bind 127.0.0.1",
            f"tls-cert-file {self.directory / 'cert.pem'}",
            f"tls-key-file {self.directory / 'key.pem'}",
            f"tls-ca-cert-file {self.ca}",
            "tls-auth-clients no",
            "tls-replication yes",
        ]

    def _make_certificate(self) -> None:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", str(self.directory / "key.pem"),
                "-out", str(self.directory / "cert.pem"),
                "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.ca.write_bytes((self.directory / "cert.pem").read_bytes())

    def _server(self, name: str, port: int, *extra: str) -> None:
        config = self.directory / f"{name}.conf"
        lines = self._listen(port)
        if self.password:
            lines += [f"requirepass {self.password}", f"masterauth {self.password}"]
        config.write_text("\n".join(lines) + "\n")
        self._spawn(
            name,
            [
                "redis-server",
                str(config),
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
