from __future__ import annotations

import base64
from typing import Literal

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile

from labelop.core.auth import ApiRequest
from labelop.core.schemas import form_fields_known
from labelop.projects.selectors import project_get
from labelop.releases import diff as release_diff
from labelop.releases import exports, imports, schemas, selectors, services, signing

router = Router(tags=["releases"])


@router.post("/projects/{project_id}/snapshots",
             response={201: schemas.SnapshotOut, 202: schemas.SnapshotOut},
             operation_id="releases_snapshot_create",
             summary="Take a signed, immutable snapshot of the reviewed work (owners); a large "
                     "project's is written in the background (202, status pending, with its job)")
def snapshot_create(request: ApiRequest, project_id: int, body: schemas.SnapshotIn) -> Status:
    project = project_get(actor=request.auth, project_id=project_id)
    snapshot = services.snapshot_create(actor=request.auth, project=project, name=body.name)
    return Status(202 if snapshot.status == "pending" else 201,
                  schemas.SnapshotOut.of(snapshot))


@router.get("/projects/{project_id}/snapshots", response=schemas.SnapshotPage,
            operation_id="releases_snapshot_list", summary="The project's snapshots, newest first")
def snapshot_list(request: ApiRequest, project_id: int, cursor: str | None = None,
                  limit: int = 50) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    page = selectors.snapshot_list(actor=request.auth, project=project, cursor=cursor,
                                   limit=limit)
    return {"items": [schemas.SnapshotOut.of(s) for s in page.items], "next": page.next}


@router.get("/snapshots/{snapshot_id}", response=schemas.SnapshotOut,
            operation_id="releases_snapshot_get", summary="One snapshot")
def snapshot_get(request: ApiRequest, snapshot_id: int) -> dict:
    return schemas.SnapshotOut.of(selectors.snapshot_get(actor=request.auth,
                                                         snapshot_id=snapshot_id))


@router.get("/snapshots/{snapshot_id}/manifest", response={200: None},
            operation_id="releases_snapshot_manifest",
            summary="The signed manifest file (`labelop snapshot verify` checks it offline)")
def snapshot_manifest(request: ApiRequest, snapshot_id: int) -> StreamingHttpResponse:
    snapshot, data = services.snapshot_download(actor=request.auth, snapshot_id=snapshot_id)
    response = StreamingHttpResponse(data, content_type="application/json")
    response["Content-Length"] = str(snapshot.size)
    response["Content-Disposition"] = f'attachment; filename="snapshot-{snapshot.pk}.json"'
    return response


@router.get("/snapshots/{snapshot_id}/diff/{other_id}", response={200: None},
            operation_id="releases_snapshot_diff",
            summary="What changed from this snapshot to the other: JSON, or the release report "
                    "in Markdown with ?format=markdown")
def snapshot_diff(request: ApiRequest, snapshot_id: int, other_id: int,
                  format: Literal["json", "markdown"] = "json") -> HttpResponse:
    a = selectors.snapshot_get(actor=request.auth, snapshot_id=snapshot_id, sealed=True)
    b = selectors.snapshot_get(actor=request.auth, snapshot_id=other_id, sealed=True)
    report = release_diff.release_report(actor=request.auth, a=a, b=b, format=format)
    if format == "markdown":
        response = HttpResponse(release_diff.as_markdown(report),
                                content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="release-{a.pk}-to-{b.pk}.md"')
        return response
    return JsonResponse(report)


@router.post("/snapshots/{snapshot_id}/exports", response={202: schemas.ExportStarted},
             operation_id="releases_export_start",
             summary="Export a snapshot as a zip, in the background (owners; originals only "
                     "as the profile allows)")
def export_start(request: ApiRequest, snapshot_id: int, body: schemas.ExportIn) -> Status:
    snapshot = selectors.snapshot_get(actor=request.auth, snapshot_id=snapshot_id, sealed=True)
    export = exports.export_start(actor=request.auth, snapshot=snapshot, format=body.format,
                                  images=body.images)
    assert export.job_id is not None
    return Status(202, {"job": export.job_id, "export": export.pk})


@router.get("/exports/{export_id}/download", response={200: None},
            operation_id="releases_export_download",
            summary="The export's zip (owners; audited; 410 once expired)")
def export_download(request: ApiRequest, export_id: int) -> StreamingHttpResponse:
    export, data = exports.export_download(actor=request.auth, export_id=export_id)
    response = StreamingHttpResponse(data, content_type="application/zip")
    response["Content-Length"] = str(export.size)
    response["Content-Disposition"] = f'attachment; filename="export-{export.pk}.zip"'
    response["Digest"] = "sha-256=" + base64.b64encode(bytes.fromhex(export.sha256)).decode()
    return response


@router.post("/projects/{project_id}/label-imports", response={202: schemas.LabelImportStarted},
             operation_id="releases_label_import_start",
             summary="Import labels made elsewhere (COCO, YOLO, VOC, Label Studio, LabelOp JSON; "
                     "a file or a zip) onto the project's images, in the background; with "
                     "dry_run the job's result says what would change (owners)")
def label_import_start(request: ApiRequest, project_id: int, body: Form[schemas.LabelImportIn],
                       file: File[UploadedFile]) -> Status:
    form_fields_known(request.POST, schemas.LabelImportIn)
    project = project_get(actor=request.auth, project_id=project_id)
    job = imports.label_import_start(actor=request.auth, project=project, upload=file.chunks(),
                                     name=file.name or "upload", **body.model_dump())
    return Status(202, {"job": job.pk})


@router.get("/instance/public-key", response=schemas.PublicKeyOut, auth=None,
            operation_id="releases_public_key",
            summary="The instance's Ed25519 key that signs snapshots")
def public_key(request: ApiRequest) -> dict:
    return {"algorithm": "ed25519", "public_key": signing.public_key_b64()}
