"""Projects and who belongs to them."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.db import models
from django.utils import timezone

from labelop.permissions.actions import Role


class Sensitivity(StrEnum):
    """Ordered weakest to strictest; a project may move only towards the strict end."""

    STANDARD = "standard"
    RESTRICTED = "restricted"
    LOCAL_ONLY = "local_only"

    @property
    def rank(self) -> int:
        return list(Sensitivity).index(self)


class Status(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


def _choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    return [(m.value, m.value) for m in enum]


def default_escalation_reasons() -> list[str]:
    return ["ambiguous content", "redaction unclear", "possible consent issue"]


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    sensitivity = models.CharField(max_length=16, choices=_choices(Sensitivity),
                                   default=Sensitivity.RESTRICTED)
    status = models.CharField(max_length=16, choices=_choices(Status), default=Status.DRAFT)
    labels = models.JSONField(default=list)
    # Review: what a reviewer must confirm was redacted before accepting ("all faces"...),
    # the reasons an escalation may give, when an open one is overdue, and (standard
    # projects only: the stricter profiles always require it) whether a task needs an
    # accepted review to enter a snapshot.
    redaction_rules = models.JSONField(default=list)
    escalation_reasons = models.JSONField(default=default_escalation_reasons)
    escalation_overdue_hours = models.PositiveIntegerField(default=48)
    review_required = models.BooleanField(default=True)
    # Controls the owners tightened beyond the profile: {control: stricter value}.
    policy = models.JSONField(default=dict)
    # Where the project's images live; None until the first image (then the default).
    storage_location = models.ForeignKey("storage.StorageLocation", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="projects")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    role = models.CharField(max_length=16, choices=_choices(Role))
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_role_per_person"),
            models.CheckConstraint(condition=models.Q(role__in=[r.value for r in Role]),
                                   name="membership_role_known"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"
