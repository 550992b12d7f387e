"""Django's runserver (with static files), stopped cleanly by SIGTERM as by Ctrl-C: the
demo's process manager (honcho, in bin/run) stops its processes with SIGTERM, and a
server that dies of the signal reads as a crash ("web.1 stopped (rc=-15)")."""

import signal

from django.contrib.staticfiles.management.commands.runserver import Command as StaticFilesRunserver


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # runserver's own clean stop: exit status 0


class Command(StaticFilesRunserver):
    def inner_run(self, *args, **options):
        signal.signal(signal.SIGTERM, _interrupt)
        return super().inner_run(*args, **options)
