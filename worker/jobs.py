from rq.job import Job, _job_stack
from typing_extensions import override

from worker.exceptions import TASK_NOT_REGISTERED, PermanentTaskError, UnregisteredTaskError
from worker.registry import arguments_misfit, registry


class RegisteredJob(Job):
    """A job that resolves its function through the task registry, never by import, and
    runs under its task's policy (``worker/policy.py``).

    A job written into Redis by someone else naming ``os.system`` fails with
    "task not registered: os.system" before anything is imported or called.
    """

    @property
    @override
    def func(self):
        task = registry.by_path(self.func_name)
        if task is None or self.instance is not None:
            raise UnregisteredTaskError(TASK_NOT_REGISTERED.format(self.func_name))
        # Arguments that do not fit the function (written into Redis by hand, or by an
        # older release) can never succeed: a permanent error, not a retried TypeError.
        if getattr(self, "_arguments_fit", None) is not task.function:  # checked once a job
            try:
                error = arguments_misfit(task.function, len(self.args), tuple(sorted(self.kwargs)))
            except TypeError as not_a_list:  # arguments that are not a list and a dict at all
                error = str(not_a_list)
            if error is not None:
                raise PermanentTaskError(f"task {task.name}: {error}")
            self._arguments_fit = task.function
        return task.function

    @override
    def perform(self):
        """rq's, without its PERSIST round trip when the job was enqueued without a
        ``ttl``: its key has no expiry to lift before it runs."""
        if self.ttl is not None:
            return super().perform()
        _job_stack.push(self)  # what get_current_job() reads
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result
