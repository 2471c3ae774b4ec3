"""Review decisions: who accepted or sent back which version of whose work, and why."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone


class Decision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


class ReviewDecision(models.Model):
    task = models.ForeignKey("annotations.Task", on_delete=models.CASCADE,
                             related_name="reviews")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(max_length=8, choices=[(d.value, d.value) for d in Decision])
    comment = models.TextField(blank=True, max_length=5000)
    # The redaction rules the reviewer confirmed, as the project stated them at the time.
    confirmations = models.JSONField(default=list)
    version = models.PositiveIntegerField()  # the annotation version decided on
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    reviewer_name = models.CharField(max_length=150)
    # Whose work it was (the assignee then): the quality view counts by this.
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                  on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "annotator"]),
                   models.Index(fields=["task", "id"])]

    def __str__(self) -> str:
        return f"{self.decision} of task {self.task_id} v{self.version} by {self.reviewer_name}"
