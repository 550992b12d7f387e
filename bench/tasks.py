"""Tasks that exist only for the benchmarks: registered when a benchmark runs, through
EXTRA_TASK_MODULES=bench.tasks, never in production."""

from worker.registry import task


@task("bench:noop", queue="default", max_retries=0, timeout=30, purpose="benchmark: does nothing")
def noop() -> None:
    return None
