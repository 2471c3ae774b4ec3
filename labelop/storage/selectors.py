"""Reads about storage: locations (site admin) and a project's storage report (owners)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Sum

from labelop.permissions import Action, Actor, require
from labelop.projects.models import Project
from labelop.storage.models import Encryption, StorageLocation
from labelop.storage.services import backend_for, default_location


def location_list(*, actor: Actor) -> list[StorageLocation]:
    require(actor, Action.STORAGE_MANAGE)
    default_location()
    return list(StorageLocation.objects.order_by("name"))


def location_names(*, actor: Actor, project: Project) -> list[str]:
    """The locations an owner may pick for the project (the profile is checked on saving)."""
    require(actor, Action.PROJECT_UPDATE, project)
    default_location()
    return list(StorageLocation.objects.order_by("name").values_list("name", flat=True))


def key_holder(location: StorageLocation) -> str:
    """Who can decrypt the location's objects, in words."""
    if location.encryption == Encryption.NONE:
        return "nobody needs a key: objects are stored unencrypted"
    if location.encryption == Encryption.SERVER:
        return "this LabelOp instance (data keys wrapped by the instance key in its data dir)"
    return (f"the customer (data keys wrapped by a key read from {location.customer_key_source}, "
            f"fingerprint {location.customer_key_fingerprint[:16]}; LabelOp never stores it)")


def where(location: StorageLocation) -> str:
    return backend_for(location).where()


def storage_report(*, actor: Actor, project: Project) -> dict:
    """For each location holding this project's images: where, who holds the key, counts."""
    require(actor, Action.STORAGE_REPORT_VIEW, project)
    rows = (project.assets.values("location").annotate(images=Count("id"),
                                                  bytes=Sum(F("size") + F("thumbnail_size")))
            .order_by("location"))
    used: dict[int, dict[str, Any]] = {row["location"]: dict(row) for row in rows}
    current = project.storage_location or default_location()
    locations = StorageLocation.objects.filter(pk__in=[*used, current.pk]).order_by("name")
    return {"current": current.name, "locations": [{
        "name": loc.name, "kind": loc.kind, "where": where(loc), "encryption": loc.encryption,
        "key_holder": key_holder(loc), "images": used.get(loc.pk, {}).get("images", 0),
        # one object per image, holding its thumbnail too (ingest.store_objects)
        "objects": used.get(loc.pk, {}).get("images", 0),
        "bytes": used.get(loc.pk, {}).get("bytes") or 0,
        "current": loc.pk == current.pk,
    } for loc in locations]}
