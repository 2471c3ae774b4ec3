from __future__ import annotations

from ninja import Router, Status

from labelop.core.auth import ApiRequest
from labelop.permissions import role_in
from labelop.projects import schemas, selectors, services
from labelop.projects.models import Project

router = Router(tags=["projects"])


def _out(request: ApiRequest, project: Project) -> dict:
    data = schemas.ProjectOut.model_validate(project).model_dump()
    data["my_role"] = role_in(request.auth, project.pk)
    return data


@router.get("", response=schemas.ProjectPage, operation_id="projects_project_list",
            summary="Projects the caller is a member of")
def project_list(request: ApiRequest, cursor: str | None = None, limit: int = 50) -> dict:
    page = selectors.project_list(actor=request.auth, cursor=cursor, limit=limit)
    return {"items": [_out(request, p) for p in page.items], "next": page.next}


@router.post("", response={201: schemas.ProjectOut}, operation_id="projects_project_create",
             summary="Create a project; the caller becomes its owner")
def project_create(request: ApiRequest, body: schemas.ProjectCreateIn) -> Status:
    project = services.project_create(
        actor=request.auth, name=body.name, sensitivity=body.sensitivity,
        description=body.description, labels=[label.model_dump() for label in body.labels],
    )
    return Status(201, _out(request, project))


@router.get("/{project_id}", response=schemas.ProjectOut, operation_id="projects_project_get",
            summary="One project")
def project_get(request: ApiRequest, project_id: int) -> dict:
    return _out(request, selectors.project_get(actor=request.auth, project_id=project_id))


@router.patch("/{project_id}", response=schemas.ProjectOut,
              operation_id="projects_project_update",
              summary="Rename, describe, or tighten the profile (owners)")
def project_update(request: ApiRequest, project_id: int, body: schemas.ProjectUpdateIn) -> dict:
    project = selectors.project_get(actor=request.auth, project_id=project_id)
    project = services.project_update(actor=request.auth, project=project, name=body.name,
                                      description=body.description, sensitivity=body.sensitivity)
    return _out(request, project)


@router.post("/{project_id}/activate", response=schemas.ProjectOut,
             operation_id="projects_project_activate",
             summary="Draft -> active; refused with the failing readiness checks (owners)")
def project_activate(request: ApiRequest, project_id: int) -> dict:
    from labelop.privacy.readiness import activate

    project = selectors.project_get(actor=request.auth, project_id=project_id)
    return _out(request, activate(actor=request.auth, project=project))


@router.get("/{project_id}/members", response=schemas.MemberPage,
            operation_id="projects_member_list", summary="Members and their roles")
def member_list(request: ApiRequest, project_id: int, cursor: str | None = None,
                limit: int = 100) -> object:
    project = selectors.project_get(actor=request.auth, project_id=project_id)
    return selectors.member_list(actor=request.auth, project=project, cursor=cursor, limit=limit)


@router.post("/{project_id}/members", response={201: schemas.MemberOut},
             operation_id="projects_member_add", summary="Add a member with one role (owners)")
def member_add(request: ApiRequest, project_id: int, body: schemas.MemberIn) -> Status:
    project = selectors.project_get(actor=request.auth, project_id=project_id)
    return Status(201, services.member_add(actor=request.auth, project=project,
                                           username=body.username, role=body.role))


@router.patch("/{project_id}/members/{username}", response=schemas.MemberOut,
              operation_id="projects_member_update", summary="Change a member's role (owners)")
def member_update(request: ApiRequest, project_id: int, username: str,
                  body: schemas.MemberUpdateIn) -> object:
    project = selectors.project_get(actor=request.auth, project_id=project_id)
    return services.member_change_role(actor=request.auth, project=project, username=username,
                                       role=body.role)


@router.delete("/{project_id}/members/{username}", response={204: None},
               operation_id="projects_member_remove", summary="Remove a member (owners)")
def member_remove(request: ApiRequest, project_id: int, username: str) -> Status:
    project = selectors.project_get(actor=request.auth, project_id=project_id)
    services.member_remove(actor=request.auth, project=project, username=username)
    return Status(204, None)


