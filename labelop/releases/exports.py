"""Exports: a zip made from one snapshot, in the background, with the images the profile
allows (none, redacted renditions, or originals: by the owner, by an approved exception, or
never); stored as an object with its SHA-256; downloads audited, owners only, expiring."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labelop.assets.models import Asset
from labelop.assets.services import project_location, regions_ever, rendition_of
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from labelop.jobs.models import Job
from labelop.jobs.services import job_create, job_progress
from labelop.permissions import Action, Actor, require
from labelop.privacy.exceptions import EXPORT_ORIGINALS, use_exception
from labelop.privacy.profiles import policy_of
from labelop.releases import writers
from labelop.releases.manifest import SignedFile
from labelop.releases.models import Export, Snapshot
from labelop.releases.selectors import signed_file
from labelop.releases.writers import FORMATS
from labelop.storage.services import object_put, object_read

IMAGES = ("none", "redacted", "original")
CHUNK = 1024 * 1024


class Gone(DomainError):
    status = 410
    code = "export_expired"


def export_start(*, actor: Actor | None, snapshot: Snapshot, format: str, images: str,
                 background: bool = True) -> Export:
    """Record the export and its job (`actor=None`: the console operator, who takes
    originals only where the profile lets owners); `background=False` leaves the job to the
    caller instead of the job workers."""
    project = snapshot.project
    if actor is not None:
        require(actor, Action.EXPORT_CREATE, project)
    if format not in FORMATS:
        raise Invalid(f"Formats: {', '.join(FORMATS)}.", code="unknown_format")
    if images not in IMAGES:
        raise Invalid(f"images is one of {', '.join(IMAGES)}.", code="unknown_images")
    from labelop.releases.jobs import export_run_job

    with transaction.atomic():
        refusal, by_exception = (_originals_refusal(actor, snapshot) if images == "original"
                                 else (None, False))
        if refusal is None:
            export = _create(actor, snapshot, format, images,
                             export_run_job.enqueue if background else None)
            if by_exception:
                Export.objects.filter(pk=export.pk).update(by_exception=True)
    if refusal is not None:  # recorded in a transaction of its own: it stays
        record(actor=actor, action=AuditAction.EXPORT_REFUSED, project=project,
               target=f"snapshot:{snapshot.pk}", details={"images": images, "reason": refusal})
        raise Forbidden(refusal, code="originals_forbidden")
    return export


def _create(actor: Actor | None, snapshot: Snapshot, format: str, images: str,
            enqueue: Any) -> Export:
    project = snapshot.project
    user = actor.user if actor else None
    export = Export.objects.create(
        snapshot=snapshot, format=format, images=images, created_by=user,
        expires_at=timezone.now() + timedelta(days=settings.LABELOP_EXPORT_DAYS))
    export.job = job_create(kind="export", project_id=project.pk, created_by=user,
                            params={"export": export.pk},
                            enqueue=enqueue or (lambda job_id: None))
    export.save(update_fields=["job"])
    record(actor=actor, action=AuditAction.EXPORT_STARTED, project=project,
           target=f"export:{export.pk}", details={
               "snapshot": snapshot.pk, "format": format, "images": images,
               "via": "api" if actor else "console"})
    return export


def _originals_refusal(actor: Actor | None, snapshot: Snapshot) -> tuple[str | None, bool]:
    """The profile's row "exports with original images", enforced: (None, whether by an
    exception) when allowed (an approved exception is used up in the caller's transaction,
    with the export), else (why, False)."""
    project = snapshot.project
    rule = policy_of(project).exports_with_originals
    if rule == "owner":
        return None, False
    if rule == "by_exception" and actor is not None and use_exception(
            actor=actor, project=project, action=EXPORT_ORIGINALS):
        return None, True
    return ("This project's policy never lets original images leave: export redacted images "
            "or annotations only." if rule == "never" else
            "This project's policy lets original images leave only by an exception: ask for "
            "'export:originals' and have another owner approve it."), False


def export_run(job: Job, progress: Any = None) -> dict[str, Any]:
    """The job's work: the zip written to a temporary file task by task (memory stays flat),
    then stored under the project's location with its SHA-256. `progress(done, total)` is
    told along the way (the command line's progress bar). Until its row names the stored
    object, the export cannot be downloaded; a run cut short is simply run again."""
    export = Export.objects.select_related("snapshot", "snapshot__project",
                                           "snapshot__location").get(pk=job.params["export"])
    snapshot = export.snapshot
    if export.object_key:  # made by an earlier run that stopped before its job said so
        return {"export": export.pk, "sha256": export.sha256, "size": export.size,
                "tasks": snapshot.tasks}
    actor = Actor.for_job(export.created_by)
    if actor is not None:  # still an owner
        require(actor, Action.EXPORT_CREATE, snapshot.project)
    if not _originals_still_allowed(export):
        raise Invalid("The project's policy no longer lets these original images leave: "
                      "export redacted images instead.", code="originals_forbidden")
    signed = SignedFile(signed_file(snapshot))
    total = signed.header["counts"]["tasks"]
    job_progress(job, done=0, total=total)
    with tempfile.TemporaryFile() as spool:
        # Level 1: a third of the time of the default for a few percent more bytes.
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=1) as zf:
            with zf.open("manifest.signed.json", "w") as entry:
                for block in signed_file(snapshot):
                    entry.write(block)
            writer = writers.WRITERS[export.format](zf, signed.header)
            writer.begin()
            revisions = (_revisions(snapshot) if writers.revisions_needed(export.format)
                         else None)
            done = 0
            for batch in _batches(signed.tasks(), 500):
                images = _assets(snapshot, batch) if export.images != "none" else {}
                for task in batch:
                    writer.task(task, revisions.get(task["id"]) if revisions else None)
                    if export.images != "none":
                        _add_image(zf, export, writer.image_dir, task, images)
                done += len(batch)
                job_progress(job, done=done)
                if progress is not None:
                    progress(done, total)
            writer.end()
        size = spool.tell()
        spool.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: spool.read(CHUNK), b""):
            digest.update(block)
        spool.seek(0)
        location = project_location(snapshot.project)
        key = f"p{snapshot.project_id}/exports/{export.pk}-{digest.hexdigest()[:16]}.zip"
        object_put(location, key, iter(lambda: spool.read(CHUNK), b""))
    Export.objects.filter(pk=export.pk).update(location=location, object_key=key,
                                               sha256=digest.hexdigest(), size=size)
    return {"export": export.pk, "sha256": digest.hexdigest(), "size": size, "tasks": total}


def _batches(rows: Iterator[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _assets(snapshot: Snapshot, batch: list[dict]) -> dict[str, Asset]:
    """The stored images of a batch of tasks, by hash (one query per batch)."""
    return {a.sha256: a for a in Asset.objects.filter(
        project_id=snapshot.project_id, sha256__in=[t["image_sha256"] for t in batch])
        .select_related("location")}


def _add_image(zf: zipfile.ZipFile, export: Export, folder: str, task: dict,
               images: dict[str, Asset]) -> None:
    asset = images.get(task["image_sha256"])
    if asset is None:
        raise Invalid(f"The image of task {task['id']} ({task['image']}) is no longer stored; "
                      "export without images.", code="image_gone")
    entry = zipfile.ZipInfo(f"{folder}/{writers.file_name(task)}",
                            date_time=export.created_at.timetuple()[:6])
    entry.compress_type = zipfile.ZIP_STORED  # images are compressed already
    with zf.open(entry, "w") as out:
        out.write(_image(asset, task, export.images, export.snapshot))


def _revisions(snapshot: Snapshot) -> _Merge:
    """Per task, a summary of its saves up to the snapshot, read alongside the tasks."""
    from django.db.models import Count, Max, Min

    from labelop.annotations.models import AnnotationRevision

    saves = (AnnotationRevision.objects
             .filter(task__project_id=snapshot.project_id, created_at__lte=snapshot.created_at)
             .order_by("task_id", "author_name").values_list("task_id", "author_name")
             .annotate(n=Count("id"), first=Min("created_at"), last=Max("created_at")))

    def per_task() -> Iterator[tuple[int, dict]]:
        task, count, first, last = None, 0, None, None
        authors: list[str] = []
        for task_id, author, n, earliest, latest in saves.iterator(chunk_size=5000):
            if task_id != task and task is not None:
                yield task, writers.summary(count, authors, first, last)
            if task_id != task:
                task, count, authors, first, last = task_id, 0, [], earliest, latest
            count += n
            authors.append(author)
            first, last = min(first, earliest), max(last, latest)
        if task is not None:
            yield task, writers.summary(count, authors, first, last)

    return _Merge(per_task())


class _Merge:
    """Values of an id-ordered stream of (id, value), asked for in increasing id order."""

    def __init__(self, rows: Iterator[tuple[int, dict]]) -> None:
        self.rows = rows
        self.head = next(rows, None)

    def get(self, key: int) -> dict | None:
        while self.head is not None and self.head[0] < key:
            self.head = next(self.rows, None)
        return self.head[1] if self.head is not None and self.head[0] == key else None


def _originals_still_allowed(export: Export) -> bool:
    """An export of originals is made and handed out only while the policy allows what it
    was made under: owners' originals while owners may export them, an exception's while
    exceptions may allow them; tightened further, neither."""
    if export.images != "original":
        return True
    rule = policy_of(export.snapshot.project).exports_with_originals
    return rule == "owner" or (rule == "by_exception" and export.by_exception)


def _image(asset: Asset, task: dict, images: str, snapshot: Snapshot) -> bytes:
    if images == "original":
        return b"".join(object_read(asset.location, asset.object_key, asset.parts, 1))
    # Every region ever saved up to the snapshot: one shrunk before it hides nothing less.
    regions = regions_ever(asset, every_revision=True, until=snapshot.created_at,
                           also=[s for s in task["shapes"] if s.get("type") == "redaction"])
    return rendition_of(asset, regions)[1]


def export_download(*, actor: Actor | None, export_id: int) -> tuple[Export, Iterator[bytes]]:
    """The export's zip as a stream (owners, or `actor=None`: the console operator; audited
    before the first byte; 410 once expired; 409 while it is being made or failed)."""
    export = (Export.objects.select_related("snapshot", "location", "job")
              .filter(pk=export_id).first())
    if export is None:
        raise NotFound("Not found.")
    if actor is not None:
        require(actor, Action.EXPORT_CREATE, export.snapshot.project)
    if export.expires_at <= timezone.now():
        raise Gone("This export has expired; make a new one from the snapshot.")
    if not _originals_still_allowed(export):
        raise Forbidden("The project's policy no longer lets these original images leave.",
                        code="originals_forbidden")
    if not export.object_key or export.location is None:
        job = export.job
        if job is not None and job.status == "failed":
            raise Conflict(f"The export failed: {(job.error or {}).get('message', '')}",
                           code="export_failed")
        raise Conflict("The export is still being made; its job tells the progress.",
                       code="export_not_ready")
    data = object_read(export.location, export.object_key)
    record(actor=actor, action=AuditAction.EXPORT_DOWNLOADED, project=export.snapshot.project,
           target=f"export:{export.pk}", details={"sha256": export.sha256, "size": export.size})
    return export, data
