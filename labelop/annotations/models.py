"""Task: an asset in a project as a unit of labelling work."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone


class TaskState(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ESCALATED = "escalated"


class Task(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT,
                                related_name="tasks")
    asset = models.OneToOneField("assets.Asset", on_delete=models.PROTECT, related_name="task")
    state = models.CharField(max_length=16, choices=[(s.value, s.value) for s in TaskState],
                             default=TaskState.NEW)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="tasks")
    version = models.PositiveIntegerField(default=0)  # optimistic concurrency
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "state", "id"]),
                   models.Index(fields=["assignee", "project", "id"])]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.state})"
