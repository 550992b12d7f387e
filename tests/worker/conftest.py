# The test tasks join this process's registry too, so the tests can enqueue them.
import tests.jobs  # noqa: F401
