"""Reads for snapshots, scoped by the policy."""

from __future__ import annotations

from collections.abc import Iterator

from labelop.core.errors import Conflict, NotFound
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, require, scope
from labelop.projects.models import Project
from labelop.releases.models import Export, Snapshot, SnapshotStatus
from labelop.storage.services import object_read


def snapshot_list(*, actor: Actor | None, project: Project, cursor: str | None = None,
                  limit: int = 50) -> Page[Snapshot]:
    """The project's snapshots, newest first (`actor=None`: the console operator)."""
    qs = Snapshot.objects.select_related("created_by")
    if actor is not None:
        require(actor, Action.SNAPSHOT_VIEW, project)
        qs = scope(actor, Action.SNAPSHOT_VIEW, qs, project=project)
    else:
        qs = qs.filter(project=project)
    return paginate(qs, cursor=cursor, limit=limit, descending=True)


def snapshot_get(*, actor: Actor | None, snapshot_id: int, sealed: bool = False) -> Snapshot:
    """One snapshot (`actor=None`: the console operator); with `sealed`, a 409 unless its
    file is written."""
    snapshot = (Snapshot.objects.select_related("location", "project", "created_by")
                .filter(pk=snapshot_id).first())
    if snapshot is None:
        raise NotFound("Not found.")
    if actor is not None:
        require(actor, Action.SNAPSHOT_VIEW, snapshot)
    if sealed and snapshot.status != SnapshotStatus.SEALED:
        raise Conflict(f"Snapshot {snapshot.name!r} is {snapshot.status}: "
                       + ("its job is still writing it." if snapshot.status == "pending"
                          else "its job failed; take it again."),
                       code="snapshot_not_ready", snapshot_status=snapshot.status)
    return snapshot


def signed_file(snapshot: Snapshot) -> Iterator[bytes]:
    """The stored signed file, as a stream."""
    return object_read(snapshot.location, snapshot.object_key)


def export_list(*, actor: Actor, project: Project, limit: int = 50) -> list[Export]:
    """The project's newest exports, for those who may make and download them."""
    require(actor, Action.EXPORT_CREATE, project)
    return list(Export.objects.filter(snapshot__project=project)
                .select_related("snapshot", "job").order_by("-pk")[:limit])
