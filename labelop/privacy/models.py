"""The operating note: four answers every member reads before working on the data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# The four questions, in order: (field, question, what a good answer says).
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("sensitive_data", "What data is sensitive?",
     "Which images, which parts of them (faces, plates, documents, screens), and why: "
     "consent, law, contract."),
    ("processing_path", "What processing path is allowed?",
     "Where images may be stored and processed, which models may see them (local only?), "
     "what may leave this server and in what form."),
    ("reviewers", "Who can review it?",
     "Which people or roles review annotations and redactions, and what they check."),
    ("escalation", "How are exceptions escalated?",
     "Whom to call when something looks wrong or is not covered here, and how fast."),
)


class OperatingNote(models.Model):
    """One version of a project's note; versions are never changed, only added."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE,
                                related_name="notes")
    version = models.PositiveIntegerField()
    sensitive_data = models.TextField(max_length=5000)
    processing_path = models.TextField(max_length=5000)
    reviewers = models.TextField(max_length=5000)
    escalation = models.TextField(max_length=5000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="+")
    author_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "version"],
                                               name="one_note_per_version")]

    def __str__(self) -> str:
        return f"note v{self.version} of project {self.project_id}"

    def answers(self) -> dict[str, str]:
        return {field: getattr(self, field) for field, _, _ in QUESTIONS}


class PolicyException(models.Model):
    """One action the policy forbids, asked for by an owner with a reason and approved by a
    different owner; used once, or until it expires."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE,
                                related_name="exceptions")
    # What it allows, e.g. "loosen:two_factor_required=false" or "profile:standard".
    action = models.CharField(max_length=200)
    reason = models.TextField(max_length=2000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "action", "id"])]

    def __str__(self) -> str:
        return f"exception {self.pk}: {self.action}"
