from __future__ import annotations

from ninja import Router

from labelop.annotations.schemas import EscalationOut, TaskOut
from labelop.core.auth import ApiRequest
from labelop.privacy.profiles import PROFILES
from labelop.projects.models import Project, Sensitivity
from labelop.projects.selectors import project_get
from labelop.review import schemas, selectors, services

router = Router(tags=["review"])


def _settings(project: Project) -> dict:
    return {"redaction_rules": project.redaction_rules,
            "escalation_reasons": project.escalation_reasons,
            "escalation_overdue_hours": project.escalation_overdue_hours,
            "review_required": services.review_required(project),
            "required_by_profile": PROFILES[Sensitivity(project.sensitivity)].review_required}


@router.get("/projects/{project_id}/review-settings", response=schemas.ReviewSettingsOut,
            operation_id="review_settings_get",
            summary="Redaction rules, escalation reasons and review policy of the project")
def settings_get(request: ApiRequest, project_id: int) -> dict:
    return _settings(project_get(actor=request.auth, project_id=project_id))


@router.put("/projects/{project_id}/review-settings", response=schemas.ReviewSettingsOut,
            operation_id="review_settings_put", summary="Change them (owners)")
def settings_put(request: ApiRequest, project_id: int, body: schemas.ReviewSettings) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return _settings(services.settings_update(actor=request.auth, project=project,
                                              **body.model_dump()))


@router.get("/projects/{project_id}/review-queue", response=schemas.ReviewPage,
            operation_id="review_queue_list",
            summary="Submitted tasks, oldest first (owners, reviewers)")
def review_queue(request: ApiRequest, project_id: int, annotator: str | None = None,
                 label: str | None = None, cursor: str | None = None, limit: int = 50) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    page = selectors.review_queue(actor=request.auth, project=project, annotator=annotator,
                                  label=label, cursor=cursor, limit=limit)
    return {"items": [TaskOut.of(t) for t in page.items], "next": page.next}


@router.post("/tasks/{task_id}/review", response=schemas.ReviewOut,
             operation_id="review_task_review",
             summary="Accept, or send back with a comment (owners, reviewers; not one's own)")
def task_review(request: ApiRequest, task_id: int, body: schemas.ReviewIn) -> dict:
    made = services.review(actor=request.auth, task_id=task_id, decision=body.decision,
                           comment=body.comment, confirmations=body.confirmations,
                           version=body.version)
    return {"id": made.pk, "task": made.task_id, "decision": made.decision,
            "comment": made.comment, "confirmations": made.confirmations,
            "version": made.version, "reviewer": made.reviewer_name,
            "annotator": made.annotator.username if made.annotator else None,
            "state": made.task.state}


@router.get("/projects/{project_id}/escalations", response=schemas.EscalationPage,
            operation_id="review_escalation_list",
            summary="Escalations, open ones by default, with what is overdue")
def escalation_list(request: ApiRequest, project_id: int, open: bool = True,
                    cursor: str | None = None, limit: int = 50) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    page = selectors.escalation_list(actor=request.auth, project=project, open_only=open,
                                     cursor=cursor, limit=limit)
    return {"items": [{**EscalationOut.of(e), "overdue": selectors.overdue(e, project),
                       "task_name": e.task.asset.original_name} for e in page.items],
            "next": page.next}


@router.get("/projects/{project_id}/quality", response=schemas.QualityOut,
            operation_id="review_quality_get",
            summary="Per annotator: done, acceptance, rework, time per task, escalations")
def quality(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return {"items": selectors.quality(actor=request.auth, project=project)}
