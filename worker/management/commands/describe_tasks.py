from django.core.management.base import BaseCommand

from worker.registry import registry


class Command(BaseCommand):
    help = (
        "Prints the task registry: name, function, queue, retries, timeout, the errors that fail "
        "a job at once (throws) and purpose."
    )

    def add_arguments(self, parser):
        parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the docs)")

    def handle(self, *args, markdown: bool, **options):
        rows = [
            (
                t.name,
                t.path,
                t.queue,
                str(t.max_retries),
                f"{t.timeout} s",
                str(t.max_concurrency) if t.max_concurrency else "-",
                ", ".join(error.__name__ for error in t.throws) or "-",
                t.purpose,
            )
            for t in registry
        ]
        header = (
            "task",
            "function",
            "queue",
            "max retries",
            "timeout",
            "at once per process",
            "fails at once on",
            "purpose",
        )
        if markdown:
            self.stdout.write("| " + " | ".join(header) + " |")
            self.stdout.write("|" + "---|" * len(header))
            for row in rows:
                self.stdout.write(
                    "| " + " | ".join(f"`{c}`" if i < 2 else c for i, c in enumerate(row)) + " |"
                )
            return
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
