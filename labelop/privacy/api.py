from __future__ import annotations

from dataclasses import asdict

from ninja import Router, Status

from labelop.core.auth import ApiRequest
from labelop.core.errors import NotFound
from labelop.privacy import access, datapath, exceptions, notes, readiness, schemas
from labelop.privacy.policy import policy_update
from labelop.privacy.profiles import CONTROLS, PROFILES, policy_of
from labelop.projects.models import Project, Sensitivity
from labelop.projects.selectors import project_get

router = Router(tags=["privacy"])


@router.get("/projects/{project_id}/note", response=schemas.NoteOut,
            operation_id="privacy_note_get",
            summary="The operating note (latest, or `version`); every member reads it")
def note_get(request: ApiRequest, project_id: int, version: int | None = None) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    note = notes.note_get(actor=request.auth, project=project, version=version)
    if note is None and version is not None:
        raise NotFound("The note has no such version.", code="note_version_not_found")
    return schemas.NoteOut.of(note)


@router.post("/projects/{project_id}/note", response={201: schemas.NoteOut},
             operation_id="privacy_note_publish",
             summary="Publish a new version: all four answers (owners)")
def note_publish(request: ApiRequest, project_id: int, body: schemas.NoteIn) -> Status:
    project = project_get(actor=request.auth, project_id=project_id)
    note = notes.note_publish(actor=request.auth, project=project,
                              answers=body.model_dump(exclude={"based_on"}),
                              based_on=body.based_on)
    return Status(201, schemas.NoteOut.of(note))


def _policy(project: Project) -> dict:
    effective = policy_of(project).controls()
    profile = PROFILES[Sensitivity(project.sensitivity)].controls()
    return {"sensitivity": project.sensitivity, "controls": [
        {"name": name, "description": control.description, "value": effective[name],
         "profile_value": profile[name], "tightened": effective[name] != profile[name],
         "choices": list(control.order)} for name, control in CONTROLS.items()]}


@router.get("/projects/{project_id}/policy", response=schemas.PolicyOut,
            operation_id="privacy_policy_get",
            summary="The project's effective policy: its profile and what owners tightened")
def policy_get(request: ApiRequest, project_id: int) -> dict:
    return _policy(project_get(actor=request.auth, project_id=project_id))


@router.put("/projects/{project_id}/policy", response=schemas.PolicyOut,
            operation_id="privacy_policy_put",
            summary="Tighten the profile or any control (owners); loosening is refused")
def policy_put(request: ApiRequest, project_id: int, body: schemas.PolicyIn) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return _policy(policy_update(actor=request.auth, project=project,
                                 sensitivity=body.sensitivity, controls=body.controls))


@router.get("/projects/{project_id}/data-path", response=schemas.DataPathOut,
            operation_id="privacy_data_path_get",
            summary="Where the images go and who sees them, generated from the configuration")
def data_path_get(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    sections = datapath.data_path(actor=request.auth, project=project)
    return {"project": project.name, "sensitivity": project.sensitivity, "sections": sections,
            "markdown": datapath.as_markdown(project, sections)}


@router.get("/projects/{project_id}/readiness", response=schemas.ReadinessOut,
            operation_id="privacy_readiness_get",
            summary="Named checks, pass / warn / fail with a reason, before activation")
def readiness_get(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    found = readiness.readiness(actor=request.auth, project=project)
    return {"ready": all(c.status != "fail" for c in found), "checks": [asdict(c) for c in found]}


@router.get("/projects/{project_id}/access-report", response=schemas.AccessReportOut,
            operation_id="privacy_access_report_get",
            summary="Who can see how much, last access, images viewed in 30 days (owners)")
def access_report_get(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return {"items": access.access_report(actor=request.auth, project=project)}


@router.post("/projects/{project_id}/exceptions", response={201: schemas.ExceptionOut},
             operation_id="privacy_exception_request",
             summary="Ask for one forbidden action with a reason (owners); another approves")
def exception_request(request: ApiRequest, project_id: int, body: schemas.ExceptionIn
                      ) -> Status:
    project = project_get(actor=request.auth, project_id=project_id)
    return Status(201, schemas.ExceptionOut.of(exceptions.request_exception(
        actor=request.auth, project=project, action=body.action, reason=body.reason)))


@router.post("/exceptions/{exception_id}/approve", response=schemas.ExceptionOut,
             operation_id="privacy_exception_approve",
             summary="Approve an exception another owner asked for; single use, expires")
def exception_approve(request: ApiRequest, exception_id: int) -> dict:
    return schemas.ExceptionOut.of(exceptions.approve_exception(
        actor=request.auth, exception_id=exception_id))
