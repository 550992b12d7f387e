class PermanentTaskError(Exception):
    """A job that can never succeed as asked (bad id, unknown row, forbidden change).

    The worker fails it at once with this message and does not retry it. Anything else a
    task raises is taken as transient (database or network down) and retried.
    """


class UnregisteredTaskError(PermanentTaskError):
    """A job names a function that is not in the task registry."""


TASK_NOT_REGISTERED = "task not registered: {}"
