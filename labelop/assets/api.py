from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from ninja import File, Router, Status
from ninja.files import UploadedFile

from labelop.assets import schemas, services
from labelop.assets.ingest import FORMATS
from labelop.core.auth import ApiRequest
from labelop.projects.selectors import project_get

router = Router(tags=["images"])


@router.post("/projects/{project_id}/images", response=schemas.UploadOut,
             operation_id="assets_image_upload",
             summary="Upload images (multipart `files`); each file is taken or refused alone")
def image_upload(request: ApiRequest, project_id: int,
                 files: list[UploadedFile] = File(...)) -> dict:  # noqa: B008
    project = project_get(actor=request.auth, project_id=project_id)
    return services.images_upload(actor=request.auth, project=project, files=files).as_dict()


@router.post("/projects/{project_id}/imports", response={202: schemas.JobStarted},
             operation_id="assets_import_start",
             summary="Import a server folder or a bucket prefix as a background job")
def import_start(request: ApiRequest, project_id: int, body: schemas.ImportIn) -> Status:
    project = project_get(actor=request.auth, project_id=project_id)
    job = services.import_start(actor=request.auth, project=project, folder=body.folder,
                                location_name=body.location, prefix=body.prefix)
    return Status(202, {"job": job.pk})


def _serve(request: ApiRequest, asset_id: int, thumbnail: bool) -> StreamingHttpResponse:
    content_type, length, stream = services.image_open(
        actor=request.auth, asset_id=asset_id, thumbnail=thumbnail,
        in_page=request.headers.get("Sec-Fetch-Dest") == "image")
    response = StreamingHttpResponse(stream, content_type=content_type)
    if length is not None:
        response["Content-Length"] = str(length)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response


@router.get("/images/{asset_id}/content", operation_id="assets_image_content",
            summary="The image, decrypted on the fly (audited)", response={200: None})
def image_content(request: ApiRequest, asset_id: int) -> StreamingHttpResponse:
    return _serve(request, asset_id, thumbnail=False)


@router.get("/images/{asset_id}/redacted", operation_id="assets_image_redacted",
            summary="The image with its task's redaction regions burned in (audited)",
            response={200: None})
def image_redacted(request: ApiRequest, asset_id: int) -> HttpResponse:
    rendition, data = services.redacted_open(
        actor=request.auth, asset_id=asset_id,
        in_page=request.headers.get("Sec-Fetch-Dest") == "image")
    response = HttpResponse(data, content_type=FORMATS[rendition.format])
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response


@router.get("/images/{asset_id}/thumbnail", operation_id="assets_image_thumbnail",
            summary="A small JPEG preview (audited)", response={200: None})
def image_thumbnail(request: ApiRequest, asset_id: int) -> StreamingHttpResponse:
    return _serve(request, asset_id, thumbnail=True)
