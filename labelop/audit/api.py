from __future__ import annotations

from datetime import datetime

from django.http import StreamingHttpResponse
from ninja import Router

from labelop.audit import schemas, selectors, services
from labelop.audit.export import ExportFormat
from labelop.core.auth import ApiRequest
from labelop.core.pagination import paginate

router = Router(tags=["audit"])


@router.get("", response=schemas.AuditPage, operation_id="audit_event_list",
            summary="Audit events the caller may read, newest first")
def event_list(request: ApiRequest, project: int | None = None, actor: str | None = None,
               action: str | None = None, since: datetime | None = None,
               cursor: str | None = None, limit: int = 50) -> dict:
    events = selectors.audit_events(actor=request.auth, project_id=project, actor_name=actor,
                                    action=action, since=since)
    page = paginate(events, cursor=cursor, limit=limit, key="seq", descending=True)
    return {"items": [selectors.audit_event_wire(e) for e in page.items], "next": page.next}


@router.get("/verify", response=schemas.VerificationOut, operation_id="audit_chain_verify",
            summary="Recompute the hash chain and name the first broken event")
def verify(request: ApiRequest) -> dict:
    return services.chain_verify(actor=request.auth).as_dict()


@router.get("/export", operation_id="audit_event_export",
            summary="Stream the events the caller may read as JSON Lines or CSV",
            response={200: None})
def export(request: ApiRequest, format: ExportFormat = ExportFormat.JSONL,
           project: int | None = None, actor: str | None = None, action: str | None = None,
           since: datetime | None = None) -> StreamingHttpResponse:
    stream = services.events_export(actor=request.auth, fmt=format, project_id=project,
                                    actor_name=actor, action=action, since=since)
    response = StreamingHttpResponse(stream, content_type=format.content_type)
    response["Content-Disposition"] = f'attachment; filename="labelop-audit.{format.value}"'
    response["Cache-Control"] = "no-store"
    return response
