from __future__ import annotations

from ninja import Router, Status

from labelop.core.auth import ApiRequest
from labelop.core.errors import NotFound
from labelop.privacy import notes, schemas
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
