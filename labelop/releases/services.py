"""Taking a snapshot: which tasks may enter (the profile's review rule), the manifest, its
signature, the stored object and the append-only row, audited together."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from labelop.annotations.models import Task, TaskState
from labelop.assets.services import project_location
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict
from labelop.permissions import Action, Actor, require
from labelop.privacy.notes import current as current_note
from labelop.privacy.profiles import policy_of
from labelop.projects.models import Project
from labelop.releases import signing
from labelop.releases.models import Snapshot
from labelop.storage.services import object_put


def entering_states(project: Project) -> tuple[str, ...]:
    """Where review is required (the profile, or the standard profile's setting) only
    accepted tasks enter; otherwise submitted ones too."""
    if policy_of(project).review_required:
        return (TaskState.ACCEPTED,)
    return (TaskState.SUBMITTED, TaskState.ACCEPTED)


def manifest(project: Project, *, name: str, actor: Actor, parent: Snapshot | None) -> dict:
    from labelop.review.models import ReviewDecision

    states = entering_states(project)
    tasks = (Task.objects.filter(project=project, state__in=states)
             .select_related("asset", "annotation").order_by("pk"))
    reviewers = dict(ReviewDecision.objects.filter(project=project, task__state__in=states)
                     .order_by("task_id", "pk").values_list("task_id", "reviewer_name"))
    rows: list[dict] = []
    by_label = Counter[str]()
    shape_count = 0
    for task in tasks.iterator(chunk_size=2000):
        shapes = getattr(getattr(task, "annotation", None), "shapes", None) or []
        shape_count += len(shapes)
        by_label.update(s.get("label") or s["type"] for s in shapes)
        rows.append({"id": task.pk, "image": task.asset.original_name,
                     "image_sha256": task.asset.sha256, "width": task.asset.width,
                     "height": task.asset.height, "state": task.state,
                     "version": task.version, "shapes": shapes,
                     "reviewer": reviewers.get(task.pk)})
    note = current_note(project)
    return {
        "project": {"id": project.pk, "name": project.name,
                    "sensitivity": project.sensitivity},
        "name": name, "created_at": timezone.now().isoformat(), "created_by": actor.name,
        "parent": {"id": parent.pk, "sha256": parent.sha256} if parent else None,
        "labels": project.labels, "policy": policy_of(project).controls(),
        "entering_states": list(states),
        "note_version": note.version if note else None,
        "counts": {"tasks": len(rows), "shapes": shape_count,
                   "by_label": dict(sorted(by_label.items()))},
        "tasks": rows,
    }


def snapshot_create(*, actor: Actor, project: Project, name: str) -> Snapshot:
    require(actor, Action.SNAPSHOT_CREATE, project)
    with transaction.atomic():  # one snapshot at a time per project: parents never fork
        Project.objects.select_for_update().filter(pk=project.pk).first()
        return _snapshot_create(actor, project, name)


def _snapshot_create(actor: Actor, project: Project, name: str) -> Snapshot:
    if Snapshot.objects.filter(project=project, name=name).exists():
        raise Conflict(f"This project has a snapshot named {name!r} already.",
                       code="snapshot_name_taken")
    parent = Snapshot.objects.filter(project=project).order_by("-pk").first()
    body = manifest(project, name=name, actor=actor, parent=parent)
    signed = signing.sign(body)
    envelope: dict[str, Any] = json.loads(signed)
    location = project_location(project)
    key = f"p{project.pk}/snapshots/{envelope['sha256']}.json"
    object_put(location, key, [signed])  # content-addressed: a retry writes the same object
    try:
        with transaction.atomic():
            snapshot = Snapshot.objects.create(
                project=project, name=name, parent=parent, location=location, object_key=key,
                sha256=envelope["sha256"], signature=envelope["signature"], size=len(signed),
                tasks=body["counts"]["tasks"], shapes=body["counts"]["shapes"],
                created_by=actor.user)
            record(actor=actor, action=AuditAction.SNAPSHOT_CREATED, project=project,
                   target=f"snapshot:{snapshot.pk}", details={
                       "name": name, "sha256": snapshot.sha256, "tasks": snapshot.tasks,
                       "shapes": snapshot.shapes,
                       "file_sha256": hashlib.sha256(signed).hexdigest()})
    except IntegrityError as exc:  # a twin request took the name first
        raise Conflict(f"This project has a snapshot named {name!r} already.",
                       code="snapshot_name_taken") from exc
    return snapshot
