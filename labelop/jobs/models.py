"""Job: a piece of background work (import, inference, snapshot, export) and its progress."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(models.Model):
    kind = models.CharField(max_length=32)
    project = models.ForeignKey("projects.Project", null=True, on_delete=models.PROTECT,
                                related_name="jobs")
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in JobStatus],
                              default=JobStatus.QUEUED)
    params = models.JSONField(default=dict)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True)
    result = models.JSONField(default=dict)
    error = models.JSONField(null=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)  # the last progress report

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        if not self.total:
            return 0.0
        return min(1.0, self.done / self.total)
