"""Reads for snapshots, scoped by the policy."""

from __future__ import annotations

from labelop.core.errors import NotFound
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, require, scope
from labelop.projects.models import Project
from labelop.releases.models import Snapshot
from labelop.storage.services import object_read


def snapshot_list(*, actor: Actor, project: Project, cursor: str | None = None,
                  limit: int = 50) -> Page[Snapshot]:
    require(actor, Action.SNAPSHOT_VIEW, project)
    qs = scope(actor, Action.SNAPSHOT_VIEW, Snapshot.objects.all(), project=project)
    return paginate(qs, cursor=cursor, limit=limit, descending=True)


def snapshot_get(*, actor: Actor, snapshot_id: int) -> Snapshot:
    snapshot = Snapshot.objects.select_related("location").filter(pk=snapshot_id).first()
    if snapshot is None:
        raise NotFound("Not found.")
    require(actor, Action.SNAPSHOT_VIEW, snapshot)
    return snapshot


def signed_file(snapshot: Snapshot) -> bytes:
    return b"".join(object_read(snapshot.location, snapshot.object_key))
