"""Writes on labels, tasks and annotations. Each authorizes, moves the task through the state
machine, changes state and audits in one transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import cycle

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from labelop.accounts.models import User
from labelop.annotations import shapes as shape_rules
from labelop.annotations.labels import LabelIn
from labelop.annotations.models import (
    Annotation,
    AnnotationRevision,
    Escalation,
    Task,
    TaskLabel,
    TaskState,
)
from labelop.annotations.states import Event, after, allows, resolved
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Invalid, NotFound
from labelop.core.prepared import Prepared
from labelop.permissions import Action, Actor, require
from labelop.projects.models import Membership, Project

MAX_ASSIGN = 10_000  # tasks in one assignment call
_CHUNK = 500  # ids per IN (...) clause


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def id_ranges(ids: Iterable[int]) -> str:
    """1,2,3,7,8 -> "1-3,7-8": which tasks an audit event covers, compactly."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(ids):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


# -- label schema ------------------------------------------------------------------------

def shapes_using(project: Project, label: str) -> int:
    used = TaskLabel.objects.filter(project=project, label=label).aggregate(n=Sum("shapes"))
    return used["n"] or 0


@transaction.atomic
def labels_update(*, actor: Actor, project: Project, labels: list[LabelIn]) -> Project:
    """Replace the schema. A label still drawn on some task may not be removed or change kind:
    its shapes would no longer fit."""
    require(actor, Action.LABELS_EDIT, project)
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    # Stored labels may predate fields added since (attributes): compare them as parsed now.
    before = {label["name"]: LabelIn.model_validate(label).model_dump()
              for label in project.labels}
    after_ = {label.name: label.model_dump() for label in labels}
    removed = [n for n in before if n not in after_]
    narrowed = [n for n in before if n in after_ and _narrows(before[n], after_[n])]
    for name in removed + narrowed:
        used = shapes_using(project, name)
        if used:
            verb = ("removed" if name in removed else
                    "given another kind, or lose attributes or choices its shapes may use")
            raise Conflict(f"Label {name!r} is used by {used} shape(s) and cannot be {verb}; "
                           "change those shapes first.", code="label_in_use", label=name,
                           shapes=used)
    changed = [n for n in after_ if n in before and after_[n] != before[n]]
    added = [n for n in after_ if n not in before]
    if not (added or removed or changed) and list(before) == list(after_):
        return project
    project.labels = list(after_.values())
    project.save(update_fields=["labels"])
    record(actor=actor, action=AuditAction.LABELS_UPDATED, project=project,
           target=f"project:{project.pk}",
           details={"added": added, "removed": removed, "changed": changed,
                    "labels": len(after_)})
    return project


def _narrows(before: dict, after: dict) -> bool:
    """Whether shapes valid under `before` may be invalid under `after`."""
    if before["kind"] != after["kind"]:
        return True
    new = {a["name"]: a for a in after["attributes"]}
    for attr in before["attributes"]:
        now = new.get(attr["name"])
        if now is None or now["type"] != attr["type"] or not set(attr["options"]) <= set(
                now["options"]):
            return True
    return False


# -- assignment --------------------------------------------------------------------------

def _members(project: Project, usernames: list[str]) -> list[User]:
    found = {m.user.username: m.user for m in Membership.objects.select_related("user")
             .filter(project=project, user__username__in=usernames, user__is_active=True)}
    missing = [u for u in usernames if u not in found]
    if missing:
        raise Invalid(f"Not active members of this project: {', '.join(missing)}.",
                      code="not_a_member", usernames=missing)
    return [found[u] for u in usernames]


def _refuse(tasks: list[Task], event: Event) -> None:
    """All or nothing: a bulk move refuses when any task cannot take `event`, naming them."""
    stuck = [{"id": t.pk, "state": t.state} for t in tasks if not allows(t.state, event)]
    if stuck:
        raise Conflict(f"{len(stuck)} task(s) cannot take '{event.value}' in their state.",
                       code="illegal_transition", event=event.value, tasks=stuck[:100])


def _locked_tasks(project: Project, task_ids: list[int]) -> list[Task]:
    tasks: list[Task] = []
    for chunk in _chunks(sorted(set(task_ids))):
        tasks += Task.objects.select_for_update(no_key=True).filter(project=project, pk__in=chunk)
    if len(tasks) != len(set(task_ids)):
        found = {t.pk for t in tasks}
        missing = sorted(set(task_ids) - found)[:100]
        raise NotFound(f"No such task(s) in this project: {missing}.", code="task_not_found",
                       tasks=missing)
    return tasks


@transaction.atomic
def tasks_assign(*, actor: Actor, project: Project, annotators: list[str],
                 task_ids: list[int] | None = None, count: int | None = None
                 ) -> dict[str, list[int]]:
    """Assign the given tasks, or the next `count` unassigned ones, to the annotators in turn.

    By count, two owners assigning at once never get the same task: PostgreSQL skips the
    rows another transaction holds (SKIP LOCKED), SQLite has one writer at a time, and the
    update itself only takes tasks that are still new.
    """
    require(actor, Action.TASK_ASSIGN, project)
    if (task_ids is None) == (count is None):
        raise Invalid("Give either task_ids or count.", code="assign_what")
    users = _members(project, list(dict.fromkeys(annotators)))
    now = timezone.now()
    given: dict[User, list[int]] = defaultdict(list)
    moved_from: dict[int, int | None] = {}
    if task_ids is not None:
        tasks = _locked_tasks(project, task_ids)
        _refuse([t for t in tasks if t.state == TaskState.NEW], Event.ASSIGN)
        _refuse([t for t in tasks if t.state != TaskState.NEW], Event.REASSIGN)
        for task, user in zip(sorted(tasks, key=lambda t: t.pk), cycle(users), strict=False):
            given[user].append(task.pk)
            if task.assignee_id is not None:
                moved_from[task.pk] = task.assignee_id
        for user, ids in given.items():
            for chunk in _chunks(ids):
                Task.objects.filter(pk__in=chunk, state=TaskState.NEW).update(
                    assignee=user, state=TaskState.ASSIGNED, updated_at=now)
                Task.objects.filter(pk__in=chunk).exclude(state=TaskState.NEW).update(
                    assignee=user, updated_at=now)
    else:
        free = list(Task.objects.select_for_update(skip_locked=True, no_key=True)
                    .filter(project=project, state=TaskState.NEW, assignee=None)
                    .order_by("pk").values_list("pk", flat=True)[:count])
        for pk, user in zip(free, cycle(users), strict=False):
            given[user].append(pk)
        for user, ids in given.items():
            taken = 0
            for chunk in _chunks(ids):
                taken += Task.objects.filter(pk__in=chunk, state=TaskState.NEW,
                                             assignee=None).update(
                    assignee=user, state=TaskState.ASSIGNED, updated_at=now)
            if taken != len(ids):  # someone else took one between our read and write
                raise Conflict("Tasks changed while assigning them; try again.",
                               code="assign_race")
    for user, ids in given.items():
        taken_from = {pk: who for pk, who in moved_from.items() if pk in set(ids)
                      and who != user.pk}
        record(actor=actor, action=AuditAction.TASK_ASSIGNED, project=project,
               target=f"user:{user.username}",
               details={"tasks": id_ranges(ids), "count": len(ids),
                        "from": _holders(taken_from)})
    return {user.username: ids for user, ids in given.items()}


def _holders(assignee_of: dict[int, int | None]) -> dict[str, str]:
    """Who held which tasks before a move, for the audit event: {username: "1-3,7"}."""
    names = dict(User.objects.filter(pk__in={v for v in assignee_of.values() if v})
                 .values_list("pk", "username"))
    held: dict[str, list[int]] = defaultdict(list)
    for task_id, user_id in assignee_of.items():
        if user_id:
            held[names.get(user_id, f"user {user_id}")].append(task_id)
    return {name: id_ranges(ids) for name, ids in sorted(held.items())}


@transaction.atomic
def tasks_unassign(*, actor: Actor, project: Project, task_ids: list[int]) -> int:
    require(actor, Action.TASK_ASSIGN, project)
    tasks = _locked_tasks(project, task_ids)
    _refuse(tasks, Event.UNASSIGN)
    ids = [t.pk for t in tasks]
    for chunk in _chunks(ids):
        Task.objects.filter(pk__in=chunk).update(assignee=None, state=TaskState.NEW,
                                                 updated_at=timezone.now())
    record(actor=actor, action=AuditAction.TASK_UNASSIGNED, project=project,
           target=f"project:{project.pk}",
           details={"tasks": id_ranges(ids), "count": len(ids),
                    "from": _holders({t.pk: t.assignee_id for t in tasks})})
    return len(ids)


# -- annotations -------------------------------------------------------------------------

# Where every task write starts, compiled once (see core.prepared): the task locked for the
# rest of the transaction (its row only: the assignee join is nullable, which PostgreSQL
# cannot lock), with what the services read of it. The caller's role is read after the lock
# is held (by the policy), so that a membership removed meanwhile counts.
_TASK_FOR_UPDATE = Prepared(lambda task_id: Task.objects.select_for_update(
    of=("self",), no_key=True).select_related("asset", "project", "assignee")
    .filter(pk=task_id), task_id=int)
# Read after the lock is held, so that it is the newest; who saved it is read on a conflict.
_ANNOTATION = Prepared(lambda task_id: Annotation.objects.filter(task_id=task_id),
                       task_id=int)


def task_for_update(task_id: int) -> Task:
    task = _TASK_FOR_UPDATE.one(task_id=task_id)
    if task is None:
        raise NotFound("Not found.")
    return task


def _current_shapes(task: Task) -> tuple[list[dict], Annotation | None]:
    annotation = _ANNOTATION.one(task_id=task.pk)
    return (annotation.shapes if annotation else []), annotation


def annotation_state(task: Task, annotation: Annotation | None) -> dict:
    return {"version": task.version, "shapes": annotation.shapes if annotation else [],
            "updated_at": annotation.updated_at if annotation else None,
            "updated_by": (annotation.updated_by.username
                           if annotation and annotation.updated_by else None)}


def edit_event(actor: Actor, task: Task) -> Event:
    if task.assignee_id != actor.user.pk:
        return Event.CORRECT
    return Event.REWORK if task.state == TaskState.REJECTED else Event.EDIT


@transaction.atomic
def annotation_save(*, actor: Actor, task_id: int, shapes: list, if_match: int) -> dict:
    """Save the task's shapes if nobody saved since version `if_match`; keep a revision."""
    task = task_for_update(task_id)
    require(actor, Action.ANNOTATION_EDIT, task)
    event = edit_event(actor, task)
    state = after(task.state, event)
    before, annotation = _current_shapes(task)
    if if_match != task.version:
        raise Conflict(f"Someone saved this annotation since version {if_match}; it is now at "
                       f"version {task.version}. Reload it before saving again.",
                       code="version_conflict", current=_json(annotation_state(task, annotation)))
    stored = shape_rules.validate(shapes, labels=task.project.labels, width=task.asset.width,
                                  height=task.asset.height,
                                  max_shapes=settings.LABELOP_MAX_SHAPES)
    now = timezone.now()
    changes = shape_rules.diff(before, stored)
    task.version += 1
    task.shape_count = len(stored)
    task.state = state
    task.updated_at = now
    if event != Event.CORRECT and task.started_at is None:
        task.started_at = now
    task.save(update_fields=["version", "shape_count", "state", "updated_at", "started_at"])
    if annotation is None:  # the task's row is locked: nobody else adds one meanwhile
        Annotation.objects.create(task=task, shapes=stored, updated_at=now,
                                  updated_by=actor.user)
    else:
        Annotation.objects.filter(task=task).update(shapes=stored, updated_at=now,
                                                    updated_by=actor.user)
    AnnotationRevision.objects.create(task=task, version=task.version, shapes=stored,
                                      author=actor.user, author_name=actor.name, created_at=now)
    counts = shape_rules.label_counts(stored)
    if counts != shape_rules.label_counts(before):
        TaskLabel.objects.filter(task=task).delete()
        TaskLabel.objects.bulk_create(TaskLabel(project_id=task.project_id, task=task, label=k,
                                                shapes=v) for k, v in counts.items())
    record(actor=actor, action=AuditAction.ANNOTATION_SAVED, project=task.project,
           target=f"task:{task.pk}",
           details={"version": task.version, "shapes": len(stored),
                    **{k: len(v) for k, v in changes.items()}})
    return {"version": task.version, "shapes": stored, "updated_at": now,
            "updated_by": actor.name, "state": task.state}


def _json(state: dict) -> dict:
    return {**state, "updated_at": state["updated_at"].isoformat() if state["updated_at"] else None}


@transaction.atomic
def task_submit(*, actor: Actor, task_id: int, version: int | None = None) -> Task:
    """Hand the work in: the annotation is locked for its annotator until review."""
    task = task_for_update(task_id)
    require(actor, Action.TASK_SUBMIT, task)
    task.state = after(task.state, Event.SUBMIT)
    if version is not None and version != task.version:
        raise Conflict(f"The annotation changed since version {version} (now {task.version}); "
                       "review it before submitting.", code="version_conflict")
    shapes, _ = _current_shapes(task)
    _require_attributes(task, shapes)
    task.updated_at = task.submitted_at = timezone.now()
    task.save(update_fields=["state", "updated_at", "submitted_at"])
    record(actor=actor, action=AuditAction.TASK_SUBMITTED, project=task.project,
           target=f"task:{task.pk}", details={"version": task.version, "shapes": len(shapes)})
    return task


def _require_attributes(task: Task, shapes: list[dict]) -> None:
    """Required attributes may be left empty while drawing, not when handing in."""
    labels = {label["name"]: label for label in task.project.labels}
    missing = []
    for shape in shapes:
        for attr in labels.get(shape.get("label", ""), {}).get("attributes", []):
            if attr.get("required") and attr["name"] not in shape.get("attributes", {}):
                missing.append({"id": shape["id"], "attribute": attr["name"]})
    if missing:
        raise Invalid(f"{len(missing)} required attribute(s) are empty.",
                      code="required_attributes", missing=missing[:100])


def escalate_event(actor: Actor, task: Task) -> Event:
    """The annotator escalates work still theirs to change; a reviewer also during review."""
    return Event.ESCALATE if task.assignee_id == actor.user.pk else Event.ESCALATE_AS_REVIEWER


@transaction.atomic
def task_escalate(*, actor: Actor, task_id: int, reason: str, note: str = "") -> Escalation:
    """Flag a task nobody should label alone; it cannot be submitted until resolved."""
    task = task_for_update(task_id)
    require(actor, Action.TASK_ESCALATE, task)
    reasons = task.project.escalation_reasons
    if reasons and reason not in reasons:
        raise Invalid(f"Give one of the project's reasons ({', '.join(reasons)}), and say more "
                      "in the note.", code="unknown_reason", reasons=reasons)
    previous = task.state
    task.state = after(task.state, escalate_event(actor, task))
    task.updated_at = timezone.now()
    task.save(update_fields=["state", "updated_at"])
    escalation = Escalation.objects.create(task=task, project_id=task.project_id, reason=reason,
                                           note=note, raised_by=actor.user,
                                           previous_state=previous)
    record(actor=actor, action=AuditAction.TASK_ESCALATED, project=task.project,
           target=f"task:{task.pk}", details={"escalation": escalation.pk, "reason": reason,
                                              "note": note, "previous_state": previous})
    return escalation


@transaction.atomic
def escalation_resolve(*, actor: Actor, escalation_id: int, resolution: str) -> Escalation:
    """Decide an escalation; the task goes back to the state it was escalated from."""
    escalation = (Escalation.objects.select_for_update(no_key=True)
                  .filter(pk=escalation_id).first())
    if escalation is None:
        raise NotFound("Not found.")
    task = task_for_update(escalation.task_id)
    require(actor, Action.TASK_VIEW, task)  # hidden tasks stay hidden: 404 before 403
    require(actor, Action.ESCALATION_RESOLVE, task)
    if escalation.resolved_at is not None:
        raise Conflict("This escalation was already resolved.", code="already_resolved")
    task.state = resolved(task.state, escalation.previous_state)
    task.updated_at = timezone.now()
    task.save(update_fields=["state", "updated_at"])
    escalation.resolved_at, escalation.resolved_by = task.updated_at, actor.user
    escalation.resolution = resolution
    escalation.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    record(actor=actor, action=AuditAction.ESCALATION_RESOLVED, project=task.project,
           target=f"task:{task.pk}", details={"escalation": escalation.pk,
                                              "resolution": resolution, "state": task.state})
    return escalation
