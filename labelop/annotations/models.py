"""Tasks and what people draw on them: the current annotation, every revision of it, and
escalations. The state machine that moves a task lives in `states.py`."""

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


STATE_CHOICES = [(s.value, s.value) for s in TaskState]


# A foreign key's own one-column index is left out where a composite index below starts with
# the same column, or where no query looks rows up by it: it served no query and cost every
# write (a 50k-task label import updates and inserts across all of them).
# Who saved an annotation or a revision is not checked by a database constraint either: the
# id is the signed-in actor's, and accounts are deactivated, never deleted (Django would
# still set it to null). Those two checks were a third of the database's time in a label
# import.


class Task(models.Model):
    # On PostgreSQL its pages are kept half empty (fillfactor, migration 0006) so that the
    # frequent updates of a task's version, counts and times stay on the page (HOT).
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT,
                                related_name="tasks", db_index=False)
    asset = models.OneToOneField("assets.Asset", on_delete=models.PROTECT, related_name="task")
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default=TaskState.NEW)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="tasks", db_index=False)
    # The annotation's version: the number of saves. A write names the version it read
    # (If-Match) and is refused when someone saved in between.
    version = models.PositiveIntegerField(default=0)
    shape_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # The assignee's first save and last hand-in: time per task in the quality view.
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Every list walks tasks by id within a project (keyset pagination): each filter has
        # an index ending in id, so a page is a range scan at any depth.
        indexes = [models.Index(fields=["project", "id"], name="task_project_id"),
                   models.Index(fields=["project", "state", "id"]),
                   models.Index(fields=["assignee", "project", "id"]),
                   models.Index(fields=["assignee", "project", "state", "id"],
                                name="task_queue")]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.state})"


class Annotation(models.Model):
    """The current shapes of a task (absent until the first save)."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, primary_key=True,
                                related_name="annotation")
    shapes = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, db_index=False,
                                   db_constraint=False, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self) -> str:
        return f"annotation of task {self.task_id}"


class AnnotationRevision(models.Model):
    """Every save, whole: who, when, and the shapes as they were after it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="revisions",
                             db_index=False)
    version = models.PositiveIntegerField()
    shapes = models.JSONField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, db_index=False,
                               db_constraint=False, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)  # kept if the account goes
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "version"],
                                               name="one_revision_per_version")]

    def __str__(self) -> str:
        return f"task {self.task_id} v{self.version} by {self.author_name}"


class TaskLabel(models.Model):
    """How many shapes of each label a task's annotation holds: the label filter of the task
    list and the "label in use" check read this instead of every annotation's JSON."""

    # The task's project, copied for the label filter's index; the task's own key already
    # ties the row to it, so no database constraint checks it again on every insert.
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE,
                                related_name="+", db_index=False, db_constraint=False)
    # Nor its task: the counts are derived from the annotation, written only beside it under
    # the task's lock, and deleted with the task (Django cascades). A database check here was
    # 150k trigger runs at the commit of a 50k-task label import.
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="label_counts",
                             db_index=False, db_constraint=False)
    label = models.CharField(max_length=100)
    shapes = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "label"],
                                               name="one_count_per_task_label")]
        indexes = [models.Index(fields=["project", "label", "task"])]

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.shapes} x {self.label}"


class Escalation(models.Model):
    """A task someone could not or should not label alone; it blocks submission until an
    owner or reviewer resolves it."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="escalations")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE,
                                related_name="+")
    reason = models.TextField(max_length=2000)  # one of the project's escalation reasons
    note = models.TextField(blank=True, max_length=2000)  # the person's own words
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                  on_delete=models.SET_NULL, related_name="+")
    previous_state = models.CharField(max_length=16, choices=STATE_CHOICES)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    resolution = models.TextField(blank=True, max_length=2000)

    class Meta:
        indexes = [models.Index(fields=["project", "resolved_at", "id"])]

    def __str__(self) -> str:
        return f"escalation {self.pk} of task {self.task_id}"
