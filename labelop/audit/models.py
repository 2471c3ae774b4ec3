"""AuditEvent: append-only and hash-chained. UPDATE and DELETE are refused by triggers."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labelop.audit.actions import AuditAction


class AuditEvent(models.Model):
    # seq is the chain position, assigned under the chain lock (see services.record).
    seq = models.BigIntegerField(primary_key=True)
    time = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # The username at the time of the event, so the record reads the same after renames.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, choices=[(a.value, a.value) for a in AuditAction])
    project = models.ForeignKey(
        "projects.Project", null=True, on_delete=models.PROTECT, related_name="+"
    )
    target = models.CharField(max_length=255, blank=True)
    # Canonical JSON text, hashed as stored: a JSON column would let the database rewrite it.
    details = models.TextField(default="{}")
    # Text, not inet: PostgreSQL would rewrite some addresses and break the stored hash.
    ip = models.CharField(max_length=45, null=True)  # noqa: DJ001 - null hashes as JSON null
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["project", "seq"]),
            models.Index(fields=["actor", "seq"]),
            models.Index(fields=["action", "seq"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_name or 'system'}"


class ChainHead(models.Model):
    """The last link of the chain, one row: appends lock it, verify compares against it
    (so that cutting events off the end of the log is detected too)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "audit_chainhead"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="one_chain_head")]

    def __str__(self) -> str:
        return f"head #{self.seq}"
