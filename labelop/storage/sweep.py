"""Objects that no row names: what a request or a job killed between storing an object and
committing the row that names it left behind (an upload's images, an export's zip, a
snapshot's manifest, an uploaded label file). LabelOp can no longer reach them, yet they are
still the customer's data: `labelop storage sweep` lists them and, with --delete, deletes
them, audited. Only objects older than a grace period count: a younger one may belong to a
write whose row is still to commit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.permissions import Action, Actor, require
from labelop.storage.models import StorageLocation
from labelop.storage.services import backend_for, is_own_key

GRACE = timedelta(hours=1)


def unnamed(location: StorageLocation, *, older_than: timedelta = GRACE) -> Iterator[str]:
    """Keys of LabelOp's objects in the location that no row names, written before
    `older_than` ago."""
    named = _named(location)
    cutoff = time.time() - older_than.total_seconds()
    for key, written in backend_for(location).list_objects():
        if written < cutoff and key not in named and is_own_key(key):
            yield key


def _named(location: StorageLocation) -> set[str]:
    """Every key a row names in the location: each app that stores objects is asked."""
    from labelop.assets.models import Asset, Rendition
    from labelop.jobs.models import Job, JobStatus
    from labelop.releases.models import Export, Snapshot

    named = set(Asset.objects.filter(location=location).values_list("object_key", flat=True))
    named.update(Rendition.objects.filter(asset__location=location)
                 .values_list("object_key", flat=True))
    named.update(Export.objects.filter(location=location).values_list("object_key", flat=True))
    named.update(Snapshot.objects.filter(location=location)
                 .values_list("object_key", flat=True))
    for params in Job.objects.filter(kind="label_import", status__in=(
            JobStatus.QUEUED, JobStatus.RUNNING)).values_list("params", flat=True):
        if params.get("location") == location.pk:  # its uploaded file, still to be read
            named.add(params["key"])
    return named


def storage_sweep(*, actor: Actor | None, location: StorageLocation, delete: bool,
                  older_than: timedelta = GRACE) -> list[str]:
    """The unnamed objects of a location; deleted (and the deletion audited) with `delete`.
    `actor=None` is the console operator."""
    if actor is not None:
        require(actor, Action.STORAGE_MANAGE)
    keys = list(unnamed(location, older_than=older_than))
    if delete and keys:
        backend = backend_for(location)
        # Looked at again just before each deletion: an image uploaded anew meanwhile was
        # written again (content-addressed key, fresh time) and its row may be committing.
        cutoff = time.time() - older_than.total_seconds()
        named = _named(location)
        keys = [k for k in keys if k not in named and (backend.written(k) or cutoff) < cutoff]
        for key in keys:
            backend.delete(key)
        record(actor=actor, action=AuditAction.STORAGE_SWEPT, target=f"location:{location.name}",
               details={"deleted": len(keys), "older_than_s": int(older_than.total_seconds())})
    return keys
