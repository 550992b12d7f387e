"""The one table of tasks: name, function, queue, retries, timeout and purpose.

Each app's ``tasks.py`` registers its functions with ``@task(...)``; the worker runs a job
only if its function is in this registry, and every enqueue takes queue, retries and
timeout from here, whoever enqueues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from inspect import Signature, signature

from rq import Retry

from worker.exceptions import PermanentTaskError

# Seconds before each retry: 1, 2, 4, 8, 16 (docs/design.md, Tasks).
BACKOFF_SECONDS = (1, 2, 4, 8, 16)
QUEUE_NAMES = ("critical", "high", "default", "low")


@dataclass(frozen=True)
class Task:
    name: str
    function: Callable
    queue: str
    max_retries: int
    timeout: int
    purpose: str
    # Exceptions that mean the job can never succeed as asked (an unknown order, a
    # forbidden change): the job fails at once and is not retried, much as dramatiq's
    # ``throws=``. Anything else the task raises is transient and retried.
    throws: tuple[type[BaseException], ...] = ()
    # At most this many of the task's jobs run at once in one working process (0: as
    # many as it has threads), so a long job cannot take every thread of a worker.
    max_concurrency: int = 0

    @property
    def path(self) -> str:
        """The dotted path rq stores in the job, e.g. ``orders.tasks.update_order_status``."""
        return f"{self.function.__module__}.{self.function.__qualname__}"

    @property
    def backoff(self) -> list[int]:
        """Seconds before each retry: 1, 2, 4, ... one per allowed retry."""
        return [BACKOFF_SECONDS[min(n, len(BACKOFF_SECONDS) - 1)] for n in range(self.max_retries)]

    def is_permanent(self, error: BaseException) -> bool:
        """True when ``error`` can never be cured by running the job again."""
        return isinstance(error, (PermanentTaskError, *self.throws))

    def retry(self) -> Retry | None:
        if not self.max_retries:
            return None
        return Retry(max=self.max_retries, interval=self.backoff)


@cache
def _signature(function) -> Signature:
    return signature(function)


@lru_cache(maxsize=1024)  # bounded: the names may come from a job, whoever wrote it
def arguments_misfit(function, positional: int, keywords: tuple[str, ...]) -> str | None:
    """Why ``positional`` arguments and these keyword names cannot call ``function``, or
    None if they can. Binding looks only at the count and the names, never the values,
    so the answer is kept per shape: a task's calls come in one or two shapes. Used at
    enqueue (worker/queues.py) and before a job runs (worker/jobs.py)."""
    try:
        _signature(function).bind(*range(positional), **dict.fromkeys(keywords))
    except TypeError as error:
        return str(error)
    return None


class TaskRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, Task] = {}
        self._by_path: dict[str, Task] = {}

    def register(self, task: Task) -> Task:
        if task.queue not in QUEUE_NAMES:
            raise ValueError(
                f"task {task.name}: unknown queue {task.queue!r} (one of {', '.join(QUEUE_NAMES)})"
            )
        if task.max_retries < 0 or task.max_retries > len(BACKOFF_SECONDS):
            raise ValueError(f"task {task.name}: max_retries must be 0..{len(BACKOFF_SECONDS)}")
        if task.max_concurrency < 0:
            raise ValueError(f"task {task.name}: max_concurrency must be 0 (no cap) or more")
        existing = self._by_name.get(task.name)
        if existing is not None and existing.path != task.path:
            raise ValueError(f"task {task.name} is already registered to {existing.path}")
        self._by_name[task.name] = task
        self._by_path[task.path] = task
        return task

    def unregister(self, name: str) -> None:
        task = self._by_name.pop(name)
        self._by_path.pop(task.path, None)

    def get(self, name: str) -> Task:
        try:
            return self._by_name[name]
        except KeyError:
            raise LookupError(
                f"no task named {name!r}; known tasks: {', '.join(sorted(self._by_name))}"
            ) from None

    def by_path(self, path: str | None) -> Task | None:
        return self._by_path.get(path) if path else None

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda t: (QUEUE_NAMES.index(t.queue), t.name)))

    def __len__(self) -> int:
        return len(self._by_name)


registry = TaskRegistry()


def task(
    name: str,
    *,
    queue: str,
    max_retries: int,
    timeout: int,
    purpose: str,
    throws: tuple[type[BaseException], ...] = (),
    max_concurrency: int = 0,
) -> Callable[[Callable], Callable]:
    """Registers the decorated function as task ``name``; the function itself is unchanged.
    ``throws`` names the exceptions that fail the job at once, without retries;
    ``max_concurrency`` caps its jobs running at once in one working process."""

    def decorate(function: Callable) -> Callable:
        registry.register(
            Task(
                name=name,
                function=function,
                queue=queue,
                max_retries=max_retries,
                timeout=timeout,
                purpose=purpose,
                throws=tuple(throws),
                max_concurrency=max_concurrency,
            )
        )
        return function

    return decorate
