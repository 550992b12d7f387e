"""The transactional outbox: jobs written in the same database transaction as the change
that causes them (``worker/outbox.py``)."""

from django.db import models
from django.utils import timezone


class OutboxJob(models.Model):
    """One job waiting to reach Redis. A row exists only while its job is not yet known
    to be in Redis: the transaction's fast path, or run_scheduler's relay, sends it and
    deletes it."""

    id = models.BigAutoField(primary_key=True)
    # Deterministic: the job is enqueued in Redis under this id, as unique, so sending a
    # row twice (a crash between "sent" and "deleted") never makes two jobs.
    job_id = models.CharField(max_length=128, unique=True)
    task = models.CharField(max_length=64)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    run_at = models.DateTimeField(null=True, blank=True, help_text="For a delayed job: when it is due.")
    created_at = models.DateTimeField(default=timezone.now)
    # The transaction that wrote the row: its fast path after commit sends exactly these.
    batch = models.UUIDField()

    class Meta:
        db_table = "worker_outbox"
        indexes = [
            models.Index(fields=["batch"], name="outbox_batch_idx"),
            models.Index(fields=["created_at"], name="outbox_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.job_id}"
