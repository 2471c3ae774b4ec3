from __future__ import annotations

import re
from typing import Annotated

from django.conf import settings
from django.http import HttpResponse
from ninja import Header, Router, Status
from pydantic import StringConstraints

from labelop.annotations import schemas, selectors, services
from labelop.annotations.labels import REDACTION_METHODS, LabelSchemaIn
from labelop.annotations.models import TaskState
from labelop.core.auth import ApiRequest
from labelop.core.errors import DomainError
from labelop.permissions import Action
from labelop.projects.selectors import project_get

router = Router(tags=["labeling"])
# Filter text: printable, bounded (PostgreSQL refuses NUL; nobody types a control character).
Filter = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class PreconditionRequired(DomainError):
    status = 428
    code = "if_match_required"


def _labels(labels: list[dict]) -> dict:
    return {"labels": labels, "redaction_methods": list(REDACTION_METHODS),
            "max_shapes": settings.LABELOP_MAX_SHAPES}


@router.get("/projects/{project_id}/labels", response=schemas.LabelsOut,
            operation_id="labeling_labels_get", summary="The project's label schema")
def labels_get(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id, action=Action.LABELS_VIEW)
    return _labels(project.labels)


@router.put("/projects/{project_id}/labels", response=schemas.LabelsOut,
            operation_id="labeling_labels_put",
            summary="Replace the label schema (owners); a label in use cannot be removed")
def labels_put(request: ApiRequest, project_id: int, body: LabelSchemaIn) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    project = services.labels_update(actor=request.auth, project=project, labels=body.labels)
    return _labels(project.labels)


@router.get("/projects/{project_id}/tasks", response=schemas.TaskPage,
            operation_id="labeling_task_list",
            summary="Tasks the caller may see (annotators: their own), filtered, by cursor")
def task_list(request: ApiRequest, project_id: int, state: TaskState | None = None,
              assignee: Filter | None = None, label: Filter | None = None,
              q: Filter | None = None, cursor: str | None = None, limit: int = 50) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    page = selectors.task_list(actor=request.auth, project=project, state=state,
                               assignee=assignee, label=label, q=q, cursor=cursor, limit=limit)
    return {"items": [schemas.TaskOut.of(t) for t in page.items], "next": page.next}


@router.get("/projects/{project_id}/tasks/next", response=schemas.NextTaskOut,
            operation_id="labeling_task_next",
            summary="The caller's next task (rework first); `after` skips the current one")
def task_next(request: ApiRequest, project_id: int, after: int | None = None) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    task = selectors.next_task(actor=request.auth, project=project, after=after)
    return {"task": schemas.TaskOut.of(task) if task else None}


@router.get("/projects/{project_id}/tasks/progress", response=schemas.ProgressOut,
            operation_id="labeling_task_progress",
            summary="Tasks per assignee and state (owners, reviewers)")
def task_progress(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return {"items": selectors.progress(actor=request.auth, project=project)}


@router.post("/projects/{project_id}/tasks/assign", response=schemas.AssignOut,
             operation_id="labeling_task_assign",
             summary="Assign tasks by id, or the next `count` unassigned ones in turn (owners)")
def task_assign(request: ApiRequest, project_id: int, body: schemas.AssignIn) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    given = services.tasks_assign(actor=request.auth, project=project, annotators=body.people,
                                  task_ids=body.task_ids, count=body.count)
    return {"assigned": sum(len(v) for v in given.values()), "tasks": given}


@router.post("/projects/{project_id}/tasks/unassign", response=schemas.UnassignOut,
             operation_id="labeling_task_unassign",
             summary="Take assigned tasks back into the pool (owners)")
def task_unassign(request: ApiRequest, project_id: int, body: schemas.UnassignIn) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return {"unassigned": services.tasks_unassign(actor=request.auth, project=project,
                                                  task_ids=body.task_ids)}


@router.get("/tasks/{task_id}", response=schemas.TaskOut, operation_id="labeling_task_get",
            summary="One task")
def task_get(request: ApiRequest, task_id: int) -> dict:
    return schemas.TaskOut.of(selectors.task_get(actor=request.auth, task_id=task_id))


def _etag(response: HttpResponse, version: int) -> None:
    response["ETag"] = f'"{version}"'


@router.get("/tasks/{task_id}/annotation", response=schemas.AnnotationOut,
            operation_id="labeling_annotation_get",
            summary="The task's current shapes and version (send the version back as If-Match)")
def annotation_get(request: ApiRequest, response: HttpResponse, task_id: int) -> dict:
    task, annotation = selectors.annotation_get(actor=request.auth, task_id=task_id)
    _etag(response, task.version)
    return {**services.annotation_state(task, annotation), "state": task.state}


def _if_match(value: str | None) -> int:
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', value or "")
    if match is None:
        raise PreconditionRequired(
            "Send the version you read as 'If-Match: <version>' so that a stale write is "
            "refused instead of overwriting someone else's.")
    return int(match.group(1))


@router.put("/tasks/{task_id}/annotation", response=schemas.AnnotationOut,
            operation_id="labeling_annotation_put",
            summary="Save the shapes; If-Match: version is required, 409 when someone saved since")
def annotation_put(request: ApiRequest, response: HttpResponse, task_id: int,
                   body: schemas.AnnotationIn,
                   if_match: str | None = Header(None, alias="If-Match")) -> dict:
    saved = services.annotation_save(actor=request.auth, task_id=task_id, shapes=body.shapes,
                                     if_match=_if_match(if_match))
    _etag(response, saved["version"])
    return saved


@router.get("/tasks/{task_id}/history", response=schemas.HistoryPage,
            operation_id="labeling_annotation_history",
            summary="Every save, newest first: who, when, and what changed")
def annotation_history(request: ApiRequest, task_id: int, cursor: str | None = None,
                       limit: int = 50) -> dict:
    page, diffs = selectors.history(actor=request.auth, task_id=task_id, cursor=cursor,
                                    limit=limit)
    items = [{"version": r.version, "author": r.author_name, "created_at": r.created_at,
              "shapes": len(r.shapes), **d} for r, d in zip(page.items, diffs, strict=True)]
    return {"items": items, "next": page.next}


@router.post("/tasks/{task_id}/submit", response=schemas.TaskOut,
             operation_id="labeling_task_submit",
             summary="Hand the work in; it is locked for the annotator until review")
def task_submit(request: ApiRequest, task_id: int, body: schemas.SubmitIn) -> dict:
    services.task_submit(actor=request.auth, task_id=task_id, version=body.version)
    return schemas.TaskOut.of(selectors.task_get(actor=request.auth, task_id=task_id))


@router.post("/tasks/{task_id}/escalate", response={201: schemas.EscalationOut},
             operation_id="labeling_task_escalate",
             summary="Escalate a task with a reason; it cannot be submitted until resolved")
def task_escalate(request: ApiRequest, task_id: int, body: schemas.EscalateIn) -> Status:
    escalation = services.task_escalate(actor=request.auth, task_id=task_id, reason=body.reason,
                                        note=body.note)
    return Status(201, schemas.EscalationOut.of(escalation))


@router.post("/escalations/{escalation_id}/resolve", response=schemas.EscalationOut,
             operation_id="labeling_escalation_resolve",
             summary="Decide an escalation (owners, reviewers); the task returns to its state")
def escalation_resolve(request: ApiRequest, escalation_id: int, body: schemas.ResolveIn) -> dict:
    return schemas.EscalationOut.of(services.escalation_resolve(
        actor=request.auth, escalation_id=escalation_id, resolution=body.resolution))
