from __future__ import annotations

from ninja import Router, Status

from labelop.core.auth import ApiRequest
from labelop.core.errors import NotFound
from labelop.projects.selectors import project_get
from labelop.storage import schemas, selectors, services
from labelop.storage.models import StorageLocation

router = Router(tags=["storage"])


def _out(location: StorageLocation) -> dict:
    return {"id": location.pk, "name": location.name, "kind": location.kind,
            "where": selectors.where(location), "encryption": location.encryption,
            "key_holder": selectors.key_holder(location), "default": location.is_default}


@router.get("/storage/locations", response=list[schemas.LocationOut],
            operation_id="storage_location_list", summary="Storage locations (site admin)")
def location_list(request: ApiRequest) -> list[dict]:
    return [_out(loc) for loc in selectors.location_list(actor=request.auth)]


@router.post("/storage/locations", response={201: schemas.LocationOut},
             operation_id="storage_location_create",
             summary="Register a storage location after a write/read probe (site admin)")
def location_create(request: ApiRequest, body: schemas.LocationIn) -> Status:
    location = services.location_create(
        actor=request.auth, name=body.name, kind=body.kind, params=body.params,
        encryption=body.encryption, customer_key_source=body.customer_key_source,
        make_default=body.default)
    return Status(201, _out(location))


@router.post("/storage/locations/{location_id}/rotate-key", response=schemas.RotateOut,
             operation_id="storage_key_rotate",
             summary="Re-wrap every data key (optionally under a new customer key)")
def key_rotate(request: ApiRequest, location_id: int, body: schemas.RotateIn) -> dict:
    location = StorageLocation.objects.filter(pk=location_id).first()
    if location is None:
        raise NotFound("Not found.")
    count = services.location_rewrap(actor=request.auth, location=location,
                                     new_customer_key_source=body.customer_key_source)
    return {"rewrapped": count}


@router.get("/projects/{project_id}/storage", response=schemas.StorageReportOut,
            operation_id="storage_report_get",
            summary="Where the project's images live, who holds the key, how many (owners)")
def storage_report(request: ApiRequest, project_id: int) -> dict:
    project = project_get(actor=request.auth, project_id=project_id)
    return selectors.storage_report(actor=request.auth, project=project)


@router.put("/projects/{project_id}/storage", response=schemas.StorageReportOut,
            operation_id="storage_project_set",
            summary="Choose the location for the project's new images (owners)")
def project_storage_set(request: ApiRequest, project_id: int,
                        body: schemas.ProjectStorageIn) -> dict:
    from labelop.assets.services import project_storage_set

    project = project_get(actor=request.auth, project_id=project_id)
    project = project_storage_set(actor=request.auth, project=project, location_name=body.location)
    return selectors.storage_report(actor=request.auth, project=project)
