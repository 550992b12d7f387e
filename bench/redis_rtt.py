"""One Redis round trip, back to back and after 50 ms of quiet: what a worker thread
pays per job between two 50 ms I/O jobs (issue 14's I/O figure).

    bin/bench redis_rtt [--samples 200]

PING and an EVALSHA that decodes a JSON argument of the take step's size, each timed
with perf_counter around the call; the "after 50 ms" rows sleep 50 ms before each call,
as a thread does while its job waits on I/O.
"""

from __future__ import annotations

import argparse
import json
import time

import bench.common  # noqa: F401  (django.setup())
from worker.queues import get_connection

COMMAND = "bin/bench redis_rtt"


def timings(call, samples: int, gap: float) -> list[float]:
    spent = []
    for _ in range(samples):
        if gap:
            time.sleep(gap)
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1e6)
    return sorted(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    redis = get_connection()
    redis.ping()
    script = redis.register_script("local a = cjson.decode(ARGV[1]) return 1")
    argument = json.dumps(
        {"finish": {"job_id": "x" * 32, "fields": ["a"] * 6, "result": ["b"] * 16}, "take": {"k": "v" * 40}}
    )
    summary = []
    for label, call in (("PING", redis.ping), ("EVALSHA (JSON argument)", lambda: script(args=[argument]))):
        for gap in (0.0, 0.05):
            spent = timings(call, args.samples, gap)
            p50, p90 = spent[len(spent) // 2], spent[int(0.9 * len(spent))]
            when = "after 50 ms of quiet" if gap else "back to back"
            print(f"{label}, {when}: p50 {p50:.0f} us, p90 {p90:.0f} us ({args.samples} calls)")
            summary.append(f"{label.split()[0].lower()}_{'idle' if gap else 'hot'}_p50_us={p50:.0f}")
    print(f"  measured by: {COMMAND} --samples {args.samples}")
    print("summary: " + " ".join(summary))


if __name__ == "__main__":
    main()
