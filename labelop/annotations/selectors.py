"""Reads on tasks and annotations, already narrowed by the policy (annotators see only their
assigned tasks; anything else is a 404)."""

from __future__ import annotations

from django.db.models import Count, F, QuerySet

from labelop.accounts.selectors import user_id
from labelop.annotations import shapes as shape_rules
from labelop.annotations.models import Annotation, AnnotationRevision, Task, TaskState
from labelop.core.errors import NotFound
from labelop.core.pagination import Page, paginate
from labelop.core.prepared import Prepared
from labelop.permissions import Action, Actor, remember_role, require, role_column, scope
from labelop.projects.models import Project

HISTORY_MAX = 50  # revisions per page: each is a whole annotation


def task_list(*, actor: Actor, project: Project, state: str | None = None,
              assignee: str | None = None, label: str | None = None, q: str | None = None,
              cursor: str | None = None, limit: int = 50) -> Page[Task]:
    require(actor, Action.PROJECT_VIEW, project)
    qs: QuerySet[Task] = scope(actor, Action.TASK_VIEW, Task.objects.all(), project=project)
    if state:
        qs = qs.filter(state=state)
    if assignee == "":  # ?assignee= with no name: the unassigned tasks
        qs = qs.filter(assignee=None)
    elif assignee:
        # By id, not through a join on the username: the (assignee, project, ...) indexes serve.
        found = user_id(assignee)
        qs = qs.filter(assignee_id=found) if found else qs.none()
    if label:
        qs = qs.filter(pk__in=project_label_tasks(project, label))
    if q:
        qs = qs.filter(asset__original_name__icontains=q)
    return paginate(qs.select_related("asset", "assignee"), cursor=cursor, limit=limit)


def project_label_tasks(project: Project, label: str) -> QuerySet:
    from labelop.annotations.models import TaskLabel

    return TaskLabel.objects.filter(project=project, label=label).values("task_id")


# What a task's wire format reads (TaskOut) and the policy needs: the hot path of the editor
# and of API clients fetches these columns only.
TASK_COLUMNS = ("id", "project_id", "asset_id", "state", "assignee_id", "version", "shape_count",
                "created_at", "updated_at", "asset__id", "asset__original_name", "asset__width",
                "asset__height", "asset__orientation", "assignee__id", "assignee__username")


def _with_role(caller_id: int, qs: QuerySet[Task]) -> QuerySet[Task]:
    """The caller's role in the task's project and what its policy needs, fetched with the
    task (see remember_role)."""
    return qs.annotate(caller_role=role_column(caller_id),
                       project_sensitivity=F("project__sensitivity"),
                       project_policy=F("project__policy"))


def _found(actor: Actor, task: Task | None, action: Action) -> Task:
    if task is None:
        raise NotFound("Not found.")
    remember_role(actor, task.project_id, task.caller_role,  # type: ignore[attr-defined]
                  task.project_sensitivity, task.project_policy)  # type: ignore[attr-defined]
    require(actor, action, task)
    return task


# The editor's and API clients' most frequent read, compiled once (see core.prepared).
_TASK = Prepared(lambda task_id, caller_id: _with_role(caller_id, Task.objects.select_related(
    "asset", "assignee").only(*TASK_COLUMNS)).filter(pk=task_id), task_id=int, caller_id=int)


def task_get(*, actor: Actor, task_id: int, action: Action = Action.TASK_VIEW) -> Task:
    return _found(actor, _TASK.one(task_id=task_id, caller_id=actor.user.pk), action)


def next_task(*, actor: Actor, project: Project, after: int | None = None) -> Task | None:
    """The caller's next task to work on: rework first, then assigned, oldest first; `after`
    skips past the task they are on (wrapping around to the start)."""
    mine = (scope(actor, Action.TASK_VIEW, Task.objects.filter(assignee=actor.user),
                  project=project).select_related("asset", "assignee"))
    for state in (TaskState.REJECTED, TaskState.ASSIGNED):
        in_state = mine.filter(state=state).exclude(pk=after or 0).order_by("pk")
        task = in_state.filter(pk__gt=after or 0).first() or in_state.first()
        if task is not None:
            return task
    return None


# The editor's read of a task's shapes, compiled once too.
_ANNOTATED_TASK = Prepared(lambda task_id, caller_id: _with_role(caller_id, Task.objects
    .select_related("asset", "assignee", "annotation", "annotation__updated_by")
    .only(*TASK_COLUMNS, "annotation__task_id", "annotation__shapes", "annotation__updated_at",
          "annotation__updated_by__id", "annotation__updated_by__username"))
    .filter(pk=task_id), task_id=int, caller_id=int)


def annotation_get(*, actor: Actor, task_id: int) -> tuple[Task, Annotation | None]:
    """The task and its annotation read together: the version and the shapes always match."""
    task = _found(actor, _ANNOTATED_TASK.one(task_id=task_id, caller_id=actor.user.pk),
                  Action.TASK_VIEW)
    try:
        return task, task.annotation
    except Annotation.DoesNotExist:
        return task, None


def history(*, actor: Actor, task_id: int, cursor: str | None = None, limit: int = 50
            ) -> tuple[Page[AnnotationRevision], list[dict]]:
    """Revisions newest first, each with the diff from the revision before it."""
    task = task_get(actor=actor, task_id=task_id)
    page = paginate(AnnotationRevision.objects.filter(task=task), cursor=cursor,
                    limit=min(limit, HISTORY_MAX), key="version", descending=True)
    oldest = page.items[-1].version if page.items else 0
    previous = (AnnotationRevision.objects.filter(task=task, version__lt=oldest)
                .order_by("-version").values_list("shapes", flat=True).first()) or []
    diffs: list[dict] = []
    for i, revision in enumerate(page.items):
        before = page.items[i + 1].shapes if i + 1 < len(page.items) else previous
        diffs.append(shape_rules.diff(before, revision.shapes))
    return page, diffs


def progress(*, actor: Actor, project: Project) -> list[dict]:
    """Per assignee: how many tasks in each state (the owner's table and the queue header)."""
    require(actor, Action.TASK_PROGRESS_VIEW, project)
    rows = (Task.objects.filter(project=project).values("assignee__username", "state")
            .annotate(n=Count("id")).order_by("assignee__username"))
    people: dict[str | None, dict] = {}
    for row in rows:
        who = row["assignee__username"]
        entry = people.setdefault(who, {"assignee": who, "total": 0,
                                        **{s.value: 0 for s in TaskState}})
        entry[row["state"]] += row["n"]
        entry["total"] += row["n"]
    return list(people.values())


def my_counts(*, actor: Actor, project: Project) -> dict[str, int]:
    """The caller's own tasks by state (the annotator's queue header)."""
    rows = (scope(actor, Action.TASK_VIEW, Task.objects.filter(assignee=actor.user),
                  project=project).values("state").annotate(n=Count("id")))
    counts = {s.value: 0 for s in TaskState}
    counts.update({r["state"]: r["n"] for r in rows})
    return counts
