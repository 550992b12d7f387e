"""Our worker next to Celery, Dramatiq and Huey, on the same jobs, Redis and PostgreSQL.

    bin/bench peers                 3 rounds (about 10 minutes on 2 cores)
    bin/bench peers --rounds 1
    bin/bench peers --quick         fewer jobs, 1 round: a smoke check in a minute or two
    bin/bench peers --systems ours,huey
    bin/bench peers --jobs noop,update_status

Every system runs 2 worker processes and the same job bodies (bench/peer_jobs.py), which
call the project's own code (orders.tasks.update_order_status, hence
orders.services.order_update_status) with Django set up in each worker process:

* ours: ``manage.py rqworker critical high default low``, twice, with its default
  WORKER_CONCURRENCY=8 threads each, every job; jobs enqueued with
  worker.queues.enqueue_many / TaskCall (tasks bench:peers_* of bench/tasks.py);
* Celery (Redis db 1): 2 ``-P solo`` workers, and for the I/O job 2 ``-P threads -c 8``;
* Dramatiq (Redis db 2): ``--processes 2 --threads 8`` (its defaults), every job;
* Huey (Redis db 3): 2 consumers ``-k thread -w 1``, and for the I/O job ``-w 8``.

Rounds interleave the systems (round 1: ours, Celery, Dramatiq, Huey; round 2: ...).
Each throughput figure: all jobs enqueued first, then the workers started; jobs / (end
of the last job - start of the first job), both stamped by the jobs themselves in a
probe Redis of this benchmark's own, so the queues' Redis counts only the systems'
commands. Latency: workers up and idle, one job every 50 ms for 10 s, each carrying its
enqueue time; start of execution minus that time. The table gives medians over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import redis
from django.db import connection

from bench.common import PROJECT_DIR, proc_stats
from bench.peer_jobs import DONE, ENDS, ERRORS, LATENCY, STARTS, WARM, redis_url
from bench.worker_throughput import prepare_orders

COMMAND = "bin/bench peers"
STALL_SECONDS = 60  # no job done for this long (after the first): the system is stuck
START_SECONDS = 90  # workers started, no job done yet after this long: stuck too
LATENCY_RATE = 20  # jobs/s


@dataclass(frozen=True)
class Sizes:
    noop: int
    status: int
    io: int
    latency_seconds: float


FULL = Sizes(noop=10_000, status=2_000, io=1_000, latency_seconds=10)
QUICK = Sizes(noop=1_000, status=300, io=200, latency_seconds=5)
JOBS = ("noop", "update_status", "io", "latency")


class BenchError(Exception):
    pass


# --- processes -------------------------------------------------------------------------

LOG_DIR = Path(tempfile.mkdtemp(prefix="bench-peers-"))
STARTED: list[subprocess.Popen] = []  # every process group started, for the final clean-up


def launch(system: str, command: list[str]) -> subprocess.Popen:
    """Starts ``command`` in a session of its own (its whole tree is killed as one),
    its output to a log file shown when it fails."""
    log = open(LOG_DIR / f"{system}.log", "ab")  # noqa: SIM115 (closed with the process)
    log.write(f"\n$ {' '.join(command)}\n".encode())
    log.flush()
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log = log  # type: ignore[attr-defined]
    STARTED.append(process)
    return process


def session_pids(sid: int) -> list[int]:
    """Every process of session ``sid``, however deep (a child that left the process
    group included)."""
    return [pid for pid, fields in proc_stats() if int(fields[3]) == sid and fields[0] != "Z"]


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB: PSS splits the pages shared with other processes
    (a forked child's, say) between them, so that a sum over a tree counts them once."""
    rss = pss = 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


def tree_memory_mb(processes: list[subprocess.Popen]) -> tuple[float, float]:
    """(RSS, PSS) summed over every process of the systems' sessions."""
    pairs = [memory_mb(pid) for process in processes for pid in session_pids(process.pid)]
    return sum(rss for rss, _ in pairs), sum(pss for _, pss in pairs)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Cpu:
    """CPU seconds used so far by the systems' workers, PostgreSQL and the queues' Redis."""

    workers: float
    postgres: float
    redis: float

    @classmethod
    def now(cls, processes: list[subprocess.Popen], queues: redis.Redis) -> Cpu:
        sessions = {process.pid for process in processes}
        workers = postgres = 0.0
        for pid, fields in proc_stats():
            seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            if int(fields[3]) in sessions:
                workers += seconds
            elif _command(pid) == "postgres":
                postgres += seconds
        info = queues.info("cpu")
        return cls(workers, postgres, info["used_cpu_user"] + info["used_cpu_sys"])

    def per_job_ms(self, before: Cpu, jobs: int) -> Cpu:
        return Cpu(
            1000 * (self.workers - before.workers) / jobs,
            1000 * (self.postgres - before.postgres) / jobs,
            1000 * (self.redis - before.redis) / jobs,
        )


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def stop(processes: list[subprocess.Popen], timeout: float = 20) -> None:
    """SIGTERM to each session, SIGKILL to whatever is left after ``timeout``."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        while session_pids(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in session_pids(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        process.log.close()  # type: ignore[attr-defined]


def log_tail(system: str, lines: int = 15) -> str:
    path = LOG_DIR / f"{system}.log"
    text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
    return "\n".join(f"    | {line}" for line in text) or "    (empty log)"


# --- the systems -----------------------------------------------------------------------


@dataclass
class System:
    name: str
    label: str
    # What runs, said in the output: (throughput jobs, I/O job).
    setup: tuple[str, str] = ("", "")
    redis_db: int = 0
    packages: tuple[str, ...] = ()

    def version(self) -> str:
        return ", ".join(f"{package} {metadata.version(package)}" for package in self.packages)

    def commands(self, io: bool) -> list[list[str]]:
        raise NotImplementedError

    def enqueue(self, job: str, args_list: list[tuple]) -> None:
        raise NotImplementedError

    def start(self, io: bool = False) -> list[subprocess.Popen]:
        return [launch(self.name, command) for command in self.commands(io)]

    def flush(self) -> None:
        redis.Redis.from_url(redis_url(self.redis_db)).flushdb()


class Ours(System):
    def commands(self, io: bool) -> list[list[str]]:
        return [[sys.executable, "manage.py", "rqworker", "critical", "high", "default", "low"]] * 2

    def enqueue(self, job: str, args_list: list[tuple]) -> None:
        from worker.queues import TaskCall, enqueue_many

        enqueue_many([TaskCall(f"bench:peers_{job}", args) for args in args_list])


class CelerySystem(System):
    def commands(self, io: bool) -> list[list[str]]:
        pool = ["-P", "threads", "-c", "8"] if io else ["-P", "solo"]
        return [
            [sys.executable, "-m", "celery", "-A", "bench.peer_celery", "worker", *pool,
             "-n", f"peer{i}@%h", "-Q", "bench-peers", "-l", "WARNING",
             "--without-mingle", "--without-gossip"]
            for i in (1, 2)
        ]  # fmt: skip

    def enqueue(self, job: str, args_list: list[tuple]) -> None:
        from bench import peer_celery

        task = getattr(peer_celery, job)
        with peer_celery.app.producer_or_acquire() as producer:
            for args in args_list:
                task.apply_async(args, producer=producer)


class DramatiqSystem(System):
    def commands(self, io: bool) -> list[list[str]]:
        return [
            [sys.executable, "-m", "dramatiq", "bench.peer_dramatiq", "--processes", "2", "--threads", "8"]
        ]

    def enqueue(self, job: str, args_list: list[tuple]) -> None:
        from bench import peer_dramatiq

        actor = getattr(peer_dramatiq, job)
        for args in args_list:
            actor.send(*args)


class HueySystem(System):
    def commands(self, io: bool) -> list[list[str]]:
        workers = "8" if io else "1"
        return [
            [sys.executable, "-m", "huey.bin.huey_consumer", "bench.peer_huey.huey",
             "-k", "thread", "-w", workers, "-n", "-q"]
            for _ in (1, 2)
        ]  # fmt: skip

    def enqueue(self, job: str, args_list: list[tuple]) -> None:
        from bench import peer_huey

        task = getattr(peer_huey, job)
        for args in args_list:
            task(*args)


SYSTEMS = {
    "ours": Ours(
        "ours",
        "ours",
        ("2 x manage.py rqworker, WORKER_CONCURRENCY=8 (its default)", "the same: 2 processes x 8 threads"),
        redis_db=0,
        packages=("rq", "django-rq"),
    ),
    "celery": CelerySystem(
        "celery",
        "Celery",
        ("2 x celery worker -P solo", "2 x celery worker -P threads -c 8"),
        redis_db=1,
        packages=("celery", "kombu"),
    ),
    "dramatiq": DramatiqSystem(
        "dramatiq",
        "Dramatiq",
        ("dramatiq --processes 2 --threads 8 (its defaults)", "the same: 2 processes x 8 threads"),
        redis_db=2,
        packages=("dramatiq",),
    ),
    "huey": HueySystem(
        "huey",
        "Huey",
        ("2 x huey_consumer -k thread -w 1", "2 x huey_consumer -k thread -w 8"),
        redis_db=3,
        packages=("huey",),
    ),
}


# --- measurements ----------------------------------------------------------------------


class Probe:
    """The benchmark's own redis-server: the jobs' marks, never the systems' queues."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.dir = LOG_DIR / "probe"
        self.dir.mkdir()
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.url = f"redis://127.0.0.1:{port}/0"
        self.redis = redis.Redis.from_url(self.url, decode_responses=True)
        for _ in range(100):
            try:
                self.redis.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise BenchError(f"the probe redis-server did not start (see {self.dir}/redis.log)")
        os.environ["BENCH_PROBE_URL"] = self.url  # inherited by every worker started later

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def command_calls(queues: redis.Redis) -> dict[str, int]:
    """Calls of each command the queues' Redis has run so far, every database, INFO
    itself left out (commands run by a script or inside MULTI count one by one)."""
    stats = queues.info("commandstats")
    return {
        key.removeprefix("cmdstat_"): value["calls"] for key, value in stats.items() if key != "cmdstat_info"
    }


def check_alive(system: System, processes: list[subprocess.Popen], what: str) -> None:
    for process in processes:
        if process.poll() is not None:
            raise BenchError(
                f"{system.label}: a worker exited (code {process.returncode}) during {what}; "
                f"its log ({LOG_DIR / system.name}.log) ends:\n{log_tail(system.name)}"
            )


def wait_for(system, processes, what, probe: Probe, key: str, target: int, count) -> None:
    """Until ``count(key)`` reaches ``target``; a failed job, a dead worker or a stall
    raises, naming the system."""
    started = last_change = time.monotonic()
    last = -1
    while True:
        done = count(key)
        if done >= target:
            return
        errors = probe.redis.lrange(ERRORS, 0, 2)
        if errors:
            raise BenchError(f"{system.label}: a job failed during {what}: {errors[0]}")
        check_alive(system, processes, what)
        now = time.monotonic()
        if done != last:
            last, last_change = done, now
        limit = START_SECONDS if done <= 0 else STALL_SECONDS
        if now - last_change > limit:
            raise BenchError(
                f"{system.label} got stuck during {what}: {max(done, 0):,} of {target:,} jobs done, "
                f"none in the last {now - last_change:.0f} s (after {now - started:.0f} s); "
                f"its log ({LOG_DIR / system.name}.log) ends:\n{log_tail(system.name)}"
            )
        time.sleep(0.05)


@dataclass
class Drain:
    rate: float
    enqueue_seconds: float
    commands_per_job: float | None = None
    rss_mb: float | None = None
    pss_mb: float | None = None
    top_commands: str = ""
    cpu: Cpu | None = None  # per job, in ms, from the first job done to the last


def drain(system: System, job: str, args_list: list[tuple], probe: Probe, queues: redis.Redis) -> Drain:
    """Enqueues every job, then starts the workers; jobs / (last end - first start)."""
    n = len(args_list)
    what = f"{job} ({n:,} jobs)"
    system.flush()
    probe.redis.flushdb()
    calls_before = command_calls(queues)
    started = time.perf_counter()
    system.enqueue(job, args_list)
    enqueue_seconds = time.perf_counter() - started
    processes = system.start(io=job == "io")
    try:
        done = lambda key: int(probe.redis.get(key) or 0)  # noqa: E731
        wait_for(system, processes, what, probe, DONE, 1, done)
        cpu_before, done_before = Cpu.now(processes, queues), done(DONE)
        wait_for(system, processes, what, probe, DONE, n, done)
        cpu = Cpu.now(processes, queues).per_job_ms(cpu_before, max(1, n - done_before))
        calls_after = command_calls(queues)
        rss, pss = tree_memory_mb(processes)
    finally:
        stop(processes)
    calls = {name: after - calls_before.get(name, 0) for name, after in calls_after.items()}
    top = sorted(((count, name) for name, count in calls.items() if count), reverse=True)[:6]
    first = probe.redis.zscore(STARTS, "first")
    last = probe.redis.zscore(ENDS, "last")
    return Drain(
        rate=n / (last - first),
        enqueue_seconds=enqueue_seconds,
        commands_per_job=sum(calls.values()) / n,
        top_commands=", ".join(f"{name} {count / n:.1f}" for count, name in top),
        rss_mb=rss,
        pss_mb=pss,
        cpu=cpu,
    )


def pickup_latency(system: System, seconds: float, probe: Probe) -> tuple[float, float, int]:
    """Workers up and idle first; then one job every 1/LATENCY_RATE s for ``seconds``.
    Returns p50 and p99 in ms, and the number of jobs."""
    system.flush()
    probe.redis.flushdb()
    processes = system.start()
    try:
        # Up: both worker processes have run a warm-up job.
        deadline = time.monotonic() + START_SECONDS
        while probe.redis.scard(WARM) < 2:
            check_alive(system, processes, "the latency warm-up")
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{system.label} got stuck in the latency warm-up: {probe.redis.scard(WARM)} of 2 "
                    f"worker processes ran a job in {START_SECONDS} s; its log ends:\n{log_tail(system.name)}"
                )
            system.enqueue("warmup", [()] * 4)
            time.sleep(0.25)
        time.sleep(2)  # warm-up leftovers done, workers idle and waiting
        probe.redis.delete(LATENCY)
        count = int(seconds * LATENCY_RATE)
        begin = time.perf_counter()
        for i in range(count):
            pause = begin + i / LATENCY_RATE - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            system.enqueue("latency", [(time.time(),)])
        wait_for(system, processes, f"latency ({count} jobs)", probe, LATENCY, count, probe.redis.llen)
    finally:
        stop(processes)
    lags = sorted(float(x) * 1000 for x in probe.redis.lrange(LATENCY, 0, -1))
    return statistics.median(lags), percentile(lags, 99), len(lags)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, round(p / 100 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- the report ------------------------------------------------------------------------

# (key, row label, unit, higher is better, format)
ROWS = [
    ("noop", "no-op, {noop:,} jobs", "jobs/s", True, "{:,.0f}"),
    ("noop_cmds", "Redis commands per job (no-op run, enqueue included)", "", False, "{:.1f}"),
    (
        "status",
        "order_update_status (row lock, UPDATE, history INSERT), {status:,} jobs",
        "jobs/s",
        True,
        "{:,.0f}",
    ),
    ("io", "50 ms of I/O (time.sleep(0.05), standing for a warehouse call), {io:,} jobs", "jobs/s", True,
     "{:,.0f}"),
    ("io_rss", "total worker RSS at the end of the I/O run", "MB", False, "{:,.0f}"),
    ("io_pss", "total worker PSS (shared pages counted once) at the end of the I/O run", "MB", False,
     "{:,.0f}"),
    ("lat_p50", "pickup latency at 20 jobs/s, p50", "ms", False, "{:.1f}"),
    ("lat_p99", "pickup latency at 20 jobs/s, p99", "ms", False, "{:.1f}"),
]  # fmt: skip


def table(results: dict[str, dict[str, list[float]]], systems: list[System], sizes: Sizes) -> list[str]:
    header = ["job", "unit", *(s.label for s in systems)]
    peers = [s for s in systems if s.name != "ours"]
    with_ratio = "ours" in results and peers
    if with_ratio:
        header.append("ours / best peer")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label, unit, higher, number in ROWS:
        medians = {s.name: statistics.median(results[s.name][key]) for s in systems if results[s.name][key]}
        cells = [label.format(**sizes.__dict__), unit]
        cells += [number.format(medians[s.name]) if s.name in medians else "-" for s in systems]
        if with_ratio:
            peer_values = {s.label: medians[s.name] for s in peers if s.name in medians}
            if "ours" in medians and peer_values:
                best = (max if higher else min)(peer_values, key=peer_values.get)
                cells.append(f"{medians['ours'] / peer_values[best]:.2f} ({best})")
            else:
                cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def machine() -> str:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores (nproc), {ram:.0f} GiB RAM, {platform.machine()}; load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer jobs and 1 round: a smoke check")
    parser.add_argument("--systems", default="ours,celery,dramatiq,huey", help="comma-separated subset")
    parser.add_argument("--jobs", default=",".join(JOBS), help="comma-separated subset of " + ", ".join(JOBS))
    args = parser.parse_args()
    jobs = [name.strip() for name in args.jobs.split(",") if name.strip()]
    if set(jobs) - set(JOBS):
        parser.error(f"unknown jobs {', '.join(sorted(set(jobs) - set(JOBS)))} (of {', '.join(JOBS)})")
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or (1 if args.quick else 3)
    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {', '.join(sorted(unknown))} (of {', '.join(SYSTEMS)})")
    systems = [SYSTEMS[name] for name in names]

    # A SIGTERM (bin/bench's caller giving up) still goes through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    probe = Probe()
    queues = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        run(systems, sizes, rounds, probe, queues, jobs)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        print(f"  worker logs: {LOG_DIR}", file=sys.stderr)
        sys.exit(1)
    finally:
        stop([process for process in STARTED if process.poll() is None or session_pids(process.pid)], 5)
        probe.close()
    shutil.rmtree(LOG_DIR, ignore_errors=True)  # kept when something failed


def run(
    systems: list[System], sizes: Sizes, rounds: int, probe: Probe, queues: redis.Redis, jobs: list[str]
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    print(f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; machine: {machine()}")
    print(
        f"Python {platform.python_version()}, Redis {queues.info('server')['redis_version']}, "
        f"PostgreSQL {pg_version}; {', '.join(s.version() for s in systems)}"
    )
    print(f"each figure: median of {rounds} round(s), the systems interleaved in each round; worker set-up:")
    for system in systems:
        print(f"  {system.label:9} {system.setup[0]}; I/O job: {system.setup[1]}; Redis db {system.redis_db}")

    results = {s.name: {key: [] for key, *_ in ROWS} for s in systems}
    for round_number in range(1, rounds + 1):
        for system in systems:
            out = results[system.name]
            said, cpu_of = [], {}
            if "noop" in jobs:
                noop = drain(system, "noop", [()] * sizes.noop, probe, queues)
                out["noop"].append(noop.rate)
                out["noop_cmds"].append(noop.commands_per_job)
                cpu_of["no-op"] = noop.cpu
                said.append(
                    f"no-op {noop.rate:,.0f}/s ({noop.commands_per_job:.1f} Redis commands/job, "
                    f"enqueue {noop.enqueue_seconds:.2f} s)"
                )
            if "update_status" in jobs:
                orders = [(order_id,) for order_id in prepare_orders(sizes.status)]
                status = drain(system, "update_status", orders, probe, queues)
                out["status"].append(status.rate)
                cpu_of["update_status"] = status.cpu
                said.append(f"update_status {status.rate:,.0f}/s")
            if "io" in jobs:
                io = drain(system, "io", [()] * sizes.io, probe, queues)
                out["io"].append(io.rate)
                out["io_rss"].append(io.rss_mb)
                out["io_pss"].append(io.pss_mb)
                cpu_of["I/O"] = io.cpu
                said.append(f"I/O {io.rate:,.0f}/s, RSS {io.rss_mb:,.0f} MB (PSS {io.pss_mb:,.0f})")
            if "latency" in jobs:
                p50, p99, count = pickup_latency(system, sizes.latency_seconds, probe)
                out["lat_p50"].append(p50)
                out["lat_p99"].append(p99)
                said.append(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms ({count} jobs)")
            print(f"  round {round_number} {system.label:9} " + "; ".join(said), flush=True)
            if "noop" in jobs:
                print(f"    {system.label}, Redis commands per no-op job, most called: {noop.top_commands}")
            for name, run in cpu_of.items():
                print(
                    f"    {system.label}, CPU per {name} job: workers {run.workers:.3f} ms, "
                    f"PostgreSQL {run.postgres:.3f} ms, Redis {run.redis:.3f} ms"
                )

    print()
    for line in table(results, systems, sizes):
        print(line)
    print(
        "  measured by: "
        + COMMAND
        + " (throughput: all jobs enqueued, then 2 worker processes started; jobs / (end of the last "
        "job - start of the first job), both stamped by the jobs; RSS and PSS: summed over each "
        "system's process trees after the I/O run (RSS counts shared pages in each process, PSS "
        "once); Redis "
        "commands: INFO commandstats calls delta from before the enqueue to the last job done, "
        "worker start-up included, / jobs; ratio: ours / the best peer's median, >1 = more)"
    )
    medians = {
        s.label: {key: statistics.median(values) for key, values in results[s.name].items() if values}
        for s in systems
    }
    parts = {
        "noop": "no-op {noop:,.0f}/s",
        "status": "update_status {status:,.0f}/s",
        "io": "I/O {io:,.0f}/s ({io_rss:,.0f} MB)",
        "lat_p50": "latency p50/p99 {lat_p50:.1f}/{lat_p99:.1f} ms",
    }
    summary = "; ".join(
        f"{label} " + ", ".join(text.format(**m) for key, text in parts.items() if key in m)
        for label, m in medians.items()
    )
    print(f"summary: {summary}")


if __name__ == "__main__":
    main()
