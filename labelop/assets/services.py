"""Writes for images: upload, import (folder or bucket prefix), and audited viewing."""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image

from labelop.assets import redaction
from labelop.assets.ingest import (
    FORMATS,
    Ingested,
    Prepared,
    Source,
    ingest,
    prepare_many,
    record_assets,
    sanitize_name,
    thumbnail_of,
)
from labelop.assets.metadata import Refused
from labelop.assets.models import Asset, Rendition
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Forbidden, Invalid, NotFound
from labelop.jobs.models import Job
from labelop.jobs.services import job_create, job_progress
from labelop.permissions import Action, Actor, require
from labelop.privacy.profiles import download_refusal, sees_redacted, storage_refusal
from labelop.projects.models import Project
from labelop.storage.backends import StorageError
from labelop.storage.models import StorageLocation
from labelop.storage.services import (
    backend_for,
    default_location,
    is_own_key,
    object_put,
    object_read,
)

IMPORT_BATCH = 50  # images recorded per transaction: a second's work, lost at most on a crash


@dataclass
class IngestReport:
    """What became of each file. `keep` bounds each list (the counts stay exact), so an
    import of any size holds a flat amount of memory."""

    keep: int | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, entry: dict[str, Any]) -> None:
        self.counts[kind] += 1
        entries = getattr(self, kind)
        if self.keep is None or len(entries) < self.keep:
            entries.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "duplicates": self.duplicates, "rejected": self.rejected}


def project_location(project: Project) -> StorageLocation:
    """The project's storage location (the instance default until one is chosen), checked
    against the profile every time an image is stored."""
    location = project.storage_location or default_location()
    refusal = storage_refusal(project, location)
    if refusal:
        raise Invalid(refusal + " Choose another storage location for the project.",
                      code="storage_not_allowed")
    return location


def take(report: IngestReport, *, project: Project, location: StorageLocation,
         data: bytes | Prepared | Refused, name: str, actor_user: Any, via: str) -> None:
    """Ingest one file into the report: one bad file never sinks the others."""
    try:
        if isinstance(data, Refused):
            raise data
        result = ingest(project=project, location=location, data=data, name=name,
                        created_by=actor_user, via=via)
    except Refused as refused:
        report.add("rejected", {"name": sanitize_name(name),
                                "error": {"code": refused.code, "message": refused.message}})
        return
    except StorageError as exc:
        report.add("rejected", {"name": sanitize_name(name),
                                "error": {"code": "storage_failed", "message": str(exc)}})
        return
    _report(report, name, result)


def _report(report: IngestReport, name: str, result: Ingested) -> None:
    entry = {"asset": result.asset.pk, "task": result.task.pk, "sha256": result.asset.sha256,
             "name": sanitize_name(name)}
    report.add("duplicates" if result.duplicate else "created", entry)


def images_upload(*, actor: Actor, project: Project, files: Iterable[UploadedFile]
                  ) -> IngestReport:
    """Ingest uploaded files; the answer lists what was created, repeated and refused."""
    require(actor, Action.IMAGE_UPLOAD, project)
    location = project_location(project)
    report = IngestReport()
    for upload in files:
        name = upload.name or "upload"
        if upload.size is not None and upload.size > settings.LABELOP_MAX_UPLOAD_BYTES:
            report.add("rejected", {"name": sanitize_name(name), "error": {
                "code": "too_large",
                "message": f"Larger than {settings.LABELOP_MAX_UPLOAD_BYTES:,} bytes."}})
            continue
        with upload.open("rb") as f:
            data = f.read()
        take(report, project=project, location=location, data=data, name=name,
              actor_user=actor.user, via="upload")
    return report


# ---------------------------------------------------------------- imports

def resolve_import_folder(folder: str) -> Path:
    """The real folder, if it lies inside one of LABELOP_IMPORT_ROOTS (after resolving
    symlinks and '..'); NotFound-free refusal otherwise, naming no other path."""
    roots = settings.LABELOP_IMPORT_ROOTS
    if not roots:
        raise Invalid("This server accepts no folder imports (LABELOP_IMPORT_ROOTS is empty).",
                      code="import_roots_empty")
    try:
        real = Path(folder).resolve(strict=True)
    except (OSError, RuntimeError):
        raise Invalid("That folder does not exist on the server.", code="import_folder_missing"
                      ) from None
    if not real.is_dir() or not any(real.is_relative_to(root) for root in roots):
        raise Invalid("Folder imports may only read inside the server's import roots.",
                      code="import_folder_refused")
    return real


def _inside_roots(path: Path) -> bool:
    return any(path.is_relative_to(root) for root in settings.LABELOP_IMPORT_ROOTS)


def folder_files(folder: Path) -> Iterator[tuple[str, Source | None]]:
    """(name, path) for every file under `folder`, sorted; (name, None) for a link that
    leads out of the import roots. Files are opened later without following links."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            inside = _inside_roots(path.resolve())
            yield str(path.relative_to(folder)), str(path) if inside else None


def bucket_files(location: StorageLocation, prefix: str) -> Iterator[tuple[str, Source | None]]:
    backend = backend_for(location)
    for key in sorted(backend.list_keys(prefix)):
        yield key, backend.get_bytes(key)


def import_files(*, project: Project, files: Iterable[tuple[str, Source | None]],
                 created_by: Any, via: str, workers: int = 1,
                 progress: Any = None) -> IngestReport:
    """Ingest many files: decoding on `workers` processes, storing and recording here."""
    location = project_location(project)
    backend_for(location).sweep()  # leftovers of an earlier run that was killed
    report = IngestReport(keep=1000)

    def readable() -> Iterator[tuple[str, Source]]:
        for name, source in files:
            if source is None:
                report.add("rejected", {"name": sanitize_name(name), "error": {
                    "code": "unsafe_path", "message": "A link leading out of the import roots."}})
            else:
                yield name, source

    # Worker processes decode, strip, hash, encrypt and write; this process keeps to the
    # database: de-duplication, Asset + Task + audit event, a batch per transaction.
    batch: list[tuple[str, Prepared]] = []
    done = reported = 0

    def flush() -> None:
        nonlocal done, reported
        if batch:
            for (name, _), result in zip(batch, record_assets(
                    project=project, location=location, batch=batch, created_by=created_by,
                    via=via), strict=True):
                _report(report, name, result)
            done += len(batch)
            batch.clear()
        if progress is not None:
            progress(done)
        reported = done

    for name, prepared in prepare_many(readable(), workers, target=(project, location)):
        if isinstance(prepared, Refused):
            take(report, project=project, location=location, data=prepared, name=name,
                 actor_user=created_by, via=via)
            done += 1
        else:
            batch.append((name, prepared))
        if done + len(batch) - reported >= IMPORT_BATCH:
            flush()
    flush()
    return report


@transaction.atomic
def import_start(*, actor: Actor, project: Project, folder: str | None = None,
                 location_name: str | None = None, prefix: str = "") -> Job:
    """Queue an import from a server folder or a bucket prefix; the job does the work."""
    require(actor, Action.IMAGE_UPLOAD, project)
    project_location(project)  # refuse now, not in the job, if storage is not allowed
    if (folder is None) == (location_name is None):
        raise Invalid("Give either a server folder or a storage location and prefix.",
                      code="import_source")
    if folder is not None:
        params: dict[str, Any] = {"folder": str(resolve_import_folder(folder))}
    else:
        source = StorageLocation.objects.filter(name=location_name).first()
        if source is None:
            raise NotFound("No storage location by that name.", code="location_not_found")
        if is_own_key(prefix):
            raise Invalid("That prefix holds LabelOp's own objects.", code="import_prefix_refused")
        params = {"location": source.pk, "prefix": prefix}
    from labelop.assets.jobs import import_run_job

    job = job_create(kind="import", project_id=project.pk, created_by=actor.user, params=params,
                     enqueue=lambda job_id: import_run_job.enqueue(job_id))
    record(actor=actor, action=AuditAction.IMPORT_STARTED, project=project, target=f"job:{job.pk}",
           details=params)
    return job


def import_run(job: Job) -> dict[str, Any]:
    """The import job's work: ingest every file, reporting progress as it goes."""
    assert job.project_id is not None  # import jobs always belong to a project
    project = Project.objects.get(pk=job.project_id)
    if "folder" in job.params:
        files: Iterable[tuple[str, Source | None]] = folder_files(Path(job.params["folder"]))
        via = "folder"
    else:
        source = StorageLocation.objects.get(pk=job.params["location"])
        files, via = bucket_files(source, job.params.get("prefix", "")), "bucket"
    report = import_files(
        project=project, files=files, created_by=job.created_by, via=via,
        workers=settings.LABELOP_IMPORT_WORKERS,
        progress=lambda n: job_progress(job, done=n))
    done = sum(report.counts.values())
    job_progress(job, done=done, total=done)
    return {"created": report.counts["created"], "duplicates": report.counts["duplicates"],
            "rejected": report.rejected}


# ---------------------------------------------------------------- viewing

def image_open(*, actor: Actor, asset_id: int, thumbnail: bool = False, in_page: bool = True
               ) -> tuple[str, int | None, Iterator[bytes]]:
    """An image's bytes for someone who may see it; every view is audited first. `in_page`:
    the browser asked for it to draw into a page (see download_refusal)."""
    asset = Asset.objects.select_related("location", "project").filter(pk=asset_id).first()
    if asset is None:
        raise NotFound("Not found.")
    require(actor, Action.IMAGE_VIEW, asset)
    if sees_redacted(asset.project, actor):  # the rendition, and a thumbnail made from it
        rendition, data = redacted_open(actor=actor, asset_id=asset.pk)  # audited there
        if thumbnail:
            with Image.open(io.BytesIO(data)) as image:
                data = thumbnail_of(image, asset.orientation)
            return "image/jpeg", len(data), iter([data])
        return FORMATS[rendition.format], len(data), iter([data])
    if not thumbnail:
        _refuse_download(actor, asset, in_page)
    # key and storage problems surface before the audit
    stream = object_read(asset.location, asset.object_key, asset.parts, 0 if thumbnail else 1)
    record(actor=actor, action=AuditAction.IMAGE_VIEWED, project=asset.project,
           target=f"asset:{asset.pk}", details={"kind": "thumbnail" if thumbnail else "content"})
    return content_type(asset, thumbnail), None if thumbnail else asset.size, stream


def _refuse_download(actor: Actor, asset: Asset, in_page: bool) -> None:
    refusal = download_refusal(asset.project, actor, in_page=in_page)
    if refusal:  # the attempt stays on record (no transaction here: kept as it is raised)
        record(actor=actor, action=AuditAction.IMAGE_DOWNLOAD_REFUSED, project=asset.project,
               target=f"asset:{asset.pk}", details={"via": "token" if actor.token else "page"})
        raise Forbidden(refusal, code="raw_download_forbidden")


def regions_ever(asset: Asset, *, every_revision: bool, until: Any = None,
                 also: list[dict] | None = None) -> list[dict]:
    """The annotation's redaction regions (or `also`, when given, instead of the current
    ones); with `every_revision`, every region any save held (until `until`), so that
    removing or shrinking one shows nothing that was once hidden."""
    from labelop.annotations.models import Annotation, AnnotationRevision

    saved: list[list[dict]] = [also] if also is not None else [
        *Annotation.objects.filter(task__asset=asset).values_list("shapes", flat=True)]
    if every_revision:
        revisions = AnnotationRevision.objects.filter(task__asset=asset)
        if until is not None:
            revisions = revisions.filter(created_at__lte=until)
        saved += revisions.order_by("version").values_list("shapes", flat=True)
    unique = {redaction.regions_sha256([r]): r for shapes in saved
              for r in redaction.regions_of(shapes)}
    return list(unique.values())


def redacted_open(*, actor: Actor, asset_id: int, in_page: bool = True
                  ) -> tuple[Rendition, bytes]:
    """The image with the redaction regions of its task burned in (made once per set of
    regions, stored beside the original); every view is audited. For the people a project
    shows only renditions, every region ever saved is burned in; for the others the current
    ones, under the same download rule as the original (a region is easily shrunk)."""
    asset = Asset.objects.select_related("location", "project").filter(pk=asset_id).first()
    if asset is None:
        raise NotFound("Not found.")
    require(actor, Action.IMAGE_VIEW, asset)
    every_revision = sees_redacted(asset.project, actor)
    if not every_revision:
        _refuse_download(actor, asset, in_page)
    regions = regions_ever(asset, every_revision=every_revision)
    rendition, data = rendition_of(asset, regions)
    record(actor=actor, action=AuditAction.IMAGE_VIEWED, project=asset.project,
           target=f"asset:{asset.pk}", details={"kind": "redacted", "regions": len(regions)})
    return rendition, data


def rendition_of(asset: Asset, regions: list[dict]) -> tuple[Rendition, bytes]:
    """The asset with these regions burned in: made and stored once, then read back. Callers
    check who may see it and audit."""
    digest = redaction.regions_sha256(regions)
    rendition = Rendition.objects.filter(asset=asset, regions_sha256=digest).first()
    if rendition is None:
        original = b"".join(object_read(asset.location, asset.object_key, asset.parts, 1))
        with Image.open(io.BytesIO(original)) as image:
            data, fmt = redaction.encode(redaction.render(image, regions), asset.format)
        key = f"{asset.object_key}.redacted-{digest[:16]}"
        object_put(asset.location, key, [data])
        rendition, _ = Rendition.objects.get_or_create(  # a concurrent twin wrote the same
            asset=asset, regions_sha256=digest, defaults={
                "regions": len(regions), "object_key": key, "format": fmt, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()})
    else:
        data = b"".join(object_read(asset.location, rendition.object_key))
    return rendition, data


def content_type(asset: Asset, thumbnail: bool) -> str:
    return "image/jpeg" if thumbnail else FORMATS[asset.format]


def project_storage_set(*, actor: Actor, project: Project, location_name: str) -> Project:
    """Choose where the project's new images go, among the locations its profile allows."""
    require(actor, Action.PROJECT_UPDATE, project)
    location = StorageLocation.objects.filter(name=location_name).first()
    if location is None:
        raise NotFound("No storage location by that name.", code="location_not_found")
    refusal = storage_refusal(project, location)
    if refusal:
        raise Invalid(refusal, code="storage_not_allowed")
    with transaction.atomic():
        before = project.storage_location.name if project.storage_location else None
        project.storage_location = location
        project.save(update_fields=["storage_location"])
        record(actor=actor, action=AuditAction.PROJECT_UPDATED, project=project,
               target=f"project:{project.pk}",
               details={"storage_location": {"before": before, "after": location.name}})
    return project
