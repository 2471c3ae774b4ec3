"""Taking a snapshot: which tasks may enter (the profile's review rule), the manifest written
as a stream, its signature, the stored object and the sealed row, audited together. Small
projects are written during the request; larger ones by a background job (the row waits,
pending, and is sealed once)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from labelop.annotations.models import Task, TaskState
from labelop.assets.services import project_location
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Invalid
from labelop.core.liveness import Held, alive
from labelop.jobs.models import Job
from labelop.jobs.services import job_create, job_progress, job_stopped
from labelop.permissions import Action, Actor, require
from labelop.privacy.notes import current as current_note
from labelop.privacy.profiles import policy_of
from labelop.projects.models import Project
from labelop.releases import manifest
from labelop.releases.models import Snapshot, SnapshotStatus
from labelop.storage.services import object_put

CONSOLE = "console"  # who acts from `labelop` on the server (operator access)


def entering_states(project: Project) -> tuple[str, ...]:
    """Where review is required (the profile, or the standard profile's setting) only
    accepted tasks enter; otherwise submitted ones too."""
    if policy_of(project).review_required:
        return (TaskState.ACCEPTED,)
    return (TaskState.SUBMITTED, TaskState.ACCEPTED)


def _rows(project: Project, states: tuple[str, ...], seen: Counter[str]) -> Iterator[dict]:
    """Every entering task in id order, read by one statement (one consistent view), with
    its last reviewer; `seen` counts tasks, shapes and shapes per label on the way."""
    from labelop.review.models import ReviewDecision

    last_reviewer = Subquery(ReviewDecision.objects.filter(task=OuterRef("pk"))
                             .order_by("-pk").values("reviewer_name")[:1])
    rows = (Task.objects.filter(project=project, state__in=states).order_by("pk")
            .annotate(reviewer=last_reviewer)
            .values_list("pk", "state", "version", "asset__original_name", "asset__sha256",
                         "asset__width", "asset__height", "annotation__shapes", "reviewer"))
    for pk, state, version, name, sha256, width, height, shapes, reviewer in rows.iterator(
            chunk_size=2000):
        shapes = shapes or []
        seen["\0tasks"] += 1
        seen["\0shapes"] += len(shapes)
        seen.update(s.get("label") or s["type"] for s in shapes)
        yield {"id": pk, "image": name, "image_sha256": sha256, "width": width,
               "height": height, "state": state, "version": version, "shapes": shapes,
               "reviewer": reviewer}


def _write(project: Project, *, name: str, by: str, parent: Snapshot | None,
           progress: Any = None) -> manifest.Written:
    """The signed file of the project as it is now."""
    states = entering_states(project)
    note = current_note(project)
    header: dict[str, Any] = {
        "project": {"id": project.pk, "name": project.name, "sensitivity": project.sensitivity},
        "name": name, "created_at": timezone.now().isoformat(), "created_by": by,
        "parent": {"id": parent.pk, "sha256": parent.sha256} if parent else None,
        "labels": project.labels, "policy": policy_of(project).controls(),
        "entering_states": list(states), "note_version": note.version if note else None,
    }
    seen = Counter[str]()

    def counted(header: dict[str, Any]) -> None:
        tasks, shapes = seen.pop("\0tasks", 0), seen.pop("\0shapes", 0)
        header["counts"] = {"tasks": tasks, "shapes": shapes, "by_label": dict(sorted(
            seen.items()))}

    rows = _rows(project, states, seen)
    if progress is not None:
        rows = _reporting(rows, progress)
    return manifest.write(header, rows, counts=counted)


def _reporting(rows: Iterator[dict], progress: Any) -> Iterator[dict]:
    for done, row in enumerate(rows, start=1):
        if done % 5000 == 0:
            progress(done)
        yield row


NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")  # printable, as the API schema says


def snapshot_create(*, actor: Actor | None, project: Project, name: str,
                    progress: Any = None) -> Snapshot:
    """Snapshot the project now, or (a large one) start the job that will: the row is then
    pending. `actor=None` is the console operator; with `progress(done)`, the snapshot is
    written now whatever its size (the command line's progress bar). One at a time per
    project, so that parents never fork. The file is written outside any transaction: a
    long write never holds SQLite's only write lock."""
    if actor is not None:
        require(actor, Action.SNAPSHOT_CREATE, project)
    name = name.strip()
    if not NAME.match(name):
        raise Invalid("A snapshot name is 1 to 100 printable characters.",
                      code="invalid_snapshot_name")
    # One writer per project at a time, known alive by a lock that dies with it: a pending
    # row written in a request is abandoned once its process is gone (kill -9 included).
    with Held(f"snapshot-writer:{project.pk}") as writer:
        if not writer.acquired:
            raise Conflict("A snapshot of this project is being written; try again once it "
                           "is sealed.", code="snapshot_in_progress")
        snapshot = _reserve(actor, project, name, inline=progress is not None)
        if snapshot.job_id is not None:
            return snapshot
        return _write_and_seal(snapshot, actor=actor, progress=progress)


def _reserve(actor: Actor | None, project: Project, name: str, *, inline: bool) -> Snapshot:
    """The pending row that holds the name and the place in the chain; with a job when the
    project is large (and nobody waits at a console), audited as requested."""
    user = actor.user if actor else None
    with transaction.atomic():
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        _refuse_while_pending(project)
        if Snapshot.objects.filter(project=project, name=name).exclude(
                status=SnapshotStatus.FAILED).exists():
            raise _name_taken(name)
        parent = (Snapshot.objects.filter(project=project, status=SnapshotStatus.SEALED)
                  .order_by("-pk").first())
        entering = Task.objects.filter(project=project,
                                       state__in=entering_states(project)).count()
        job = None
        if not inline and entering > settings.LABELOP_SNAPSHOT_INLINE_TASKS:
            from labelop.releases.jobs import snapshot_write_job

            job = job_create(kind="snapshot", project_id=project.pk, created_by=user,
                             params={}, enqueue=lambda job_id: snapshot_write_job.enqueue(job_id))
        snapshot = Snapshot.objects.create(
            project=project, name=name, parent=parent, location=project_location(project),
            object_key="", sha256="", signature="", size=0, tasks=0, shapes=0,
            created_by=user, status=SnapshotStatus.PENDING, job=job)
        if job is None:
            return snapshot
        job.params = {"snapshot": snapshot.pk}  # read by the worker once this commits
        job.save(update_fields=["params"])
        record(actor=actor, action=AuditAction.SNAPSHOT_REQUESTED, project=project,
               target=f"snapshot:{snapshot.pk}", details={
                   "name": name, "tasks": entering, "job": job.pk,
                   "via": "api" if actor else "console"})
    return snapshot


WRITER_GONE = "its writer stopped without finishing"


def _refuse_while_pending(project: Project) -> None:
    pending = (Snapshot.objects.filter(project=project, status=SnapshotStatus.PENDING)
               .select_related("job").first())
    if pending is None:
        return
    # Written in a request: its writer held the lock that the caller holds now, so it is gone.
    if pending.job is None or job_stopped(pending.job):
        _fail(pending, reason=WRITER_GONE)  # the name is free again
        return
    raise Conflict(f"Snapshot {pending.name!r} is still being written; its job tells the "
                   "progress.", code="snapshot_in_progress", snapshot=pending.pk,
                   job=pending.job_id)


def snapshots_recover() -> int:
    """Give up the snapshots whose writer died in a request (kill -9): pending, without a job,
    and their project's writer lock free. Job workers call it now and then (jobs.recovery);
    the next snapshot request of the project would too. How many were given up."""
    given_up = 0
    for pending in Snapshot.objects.filter(status=SnapshotStatus.PENDING, job=None):
        # New pending rows are made only under the lock, and _fail acts on pending rows
        # only: no need to hold the lock (and make a request meanwhile answer 409).
        if not alive(f"snapshot-writer:{pending.project_id}"):
            _fail(pending, reason=WRITER_GONE)
            given_up += 1
    return given_up


def _name_taken(name: str) -> Conflict:
    return Conflict(f"This project has a snapshot named {name!r} already.",
                    code="snapshot_name_taken")


def snapshot_write(job: Job) -> dict[str, Any]:
    """The job's work: write the pending snapshot's file, then seal its row. Its requester
    must still be allowed to take snapshots."""
    snapshot = Snapshot.objects.select_related("project", "parent", "created_by").get(
        pk=job.params["snapshot"])
    if snapshot.status != SnapshotStatus.PENDING:  # delivered twice
        return {"snapshot": snapshot.pk, "sha256": snapshot.sha256}
    actor = Actor.for_job(snapshot.created_by)
    try:
        if actor is not None:
            require(actor, Action.SNAPSHOT_CREATE, snapshot.project)
        job_progress(job, done=0, total=Task.objects.filter(
            project=snapshot.project, state__in=entering_states(snapshot.project)).count())
    except BaseException:
        _fail(snapshot, reason="its requester may no longer take snapshots")
        raise
    snapshot = _write_and_seal(snapshot, actor=actor,
                               progress=lambda done: job_progress(job, done=done))
    return {"snapshot": snapshot.pk, "sha256": snapshot.sha256, "tasks": snapshot.tasks}


def _write_and_seal(snapshot: Snapshot, *, actor: Actor | None, progress: Any) -> Snapshot:
    """Write and store the file (content-addressed: a retry writes the same object), then
    seal the row with what it proves, audited in the same short transaction. Any failure,
    an interruption included, marks the row failed."""
    project = snapshot.project
    try:
        by = snapshot.created_by.get_username() if snapshot.created_by else CONSOLE
        written = _write(project, name=snapshot.name, by=by, parent=snapshot.parent,
                         progress=progress)
        key = f"p{project.pk}/snapshots/{written.sha256}.json"
        with written.file:
            object_put(snapshot.location, key, written.chunks())
        with transaction.atomic():
            locked = Snapshot.objects.select_for_update(no_key=True).get(pk=snapshot.pk)
            if locked.status != SnapshotStatus.PENDING:
                raise Conflict(f"Snapshot {snapshot.name!r} was given up while it was "
                               "written.", code="snapshot_abandoned")
            counts = written.header["counts"]
            locked.object_key, locked.sha256 = key, written.sha256
            locked.signature, locked.size = written.signature, written.size
            locked.tasks, locked.shapes = counts["tasks"], counts["shapes"]
            # When its rows were read: diffs look for saves and reviews after it.
            locked.created_at = datetime.fromisoformat(written.header["created_at"])
            locked.status = SnapshotStatus.SEALED
            locked.save()
            record(actor=actor, action=AuditAction.SNAPSHOT_CREATED, project=project,
                   target=f"snapshot:{locked.pk}", details={
                       "name": locked.name, "sha256": locked.sha256, "tasks": locked.tasks,
                       "shapes": locked.shapes, "via": "api" if actor else "console"})
    except BaseException as exc:
        _fail(snapshot, reason=str(exc)[:300] or type(exc).__name__)
        raise
    return locked


def _fail(snapshot: Snapshot, *, reason: str) -> None:
    """Mark a pending snapshot failed (once), audited: its name is free again."""
    with transaction.atomic():
        if Snapshot.objects.filter(pk=snapshot.pk, status=SnapshotStatus.PENDING).update(
                status=SnapshotStatus.FAILED):
            record(actor=None, action=AuditAction.SNAPSHOT_FAILED, project=snapshot.project,
                   target=f"snapshot:{snapshot.pk}",
                   details={"name": snapshot.name, "reason": reason})


def snapshot_download(*, actor: Actor, snapshot_id: int) -> tuple[Snapshot, Iterator[bytes]]:
    """The signed file, as a stream, for someone who may see the snapshot: audited."""
    from labelop.releases.selectors import signed_file, snapshot_get

    snapshot = snapshot_get(actor=actor, snapshot_id=snapshot_id, sealed=True)
    record(actor=actor, action=AuditAction.SNAPSHOT_DOWNLOADED, project=snapshot.project,
           target=f"snapshot:{snapshot.pk}", details={"sha256": snapshot.sha256})
    return snapshot, signed_file(snapshot)
