from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import StringConstraints

from labelop.core.schemas import In


class SnapshotIn(In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100,
                                           pattern=r"^[^\x00-\x1f\x7f]+$")]


class SnapshotOut(Schema):
    id: int
    name: str
    status: Literal["pending", "sealed", "failed"]  # pending: its job is writing it
    job: int | None
    sha256: str
    signature: str
    size: int
    tasks: int
    shapes: int
    parent: int | None
    created_at: datetime
    created_by: str | None

    @staticmethod
    def of(s: object) -> dict:
        return {"id": s.pk, "name": s.name, "sha256": s.sha256,  # type: ignore[attr-defined]
                "status": s.status, "job": s.job_id,  # type: ignore[attr-defined]
                "signature": s.signature, "size": s.size,  # type: ignore[attr-defined]
                "tasks": s.tasks, "shapes": s.shapes,  # type: ignore[attr-defined]
                "parent": s.parent_id, "created_at": s.created_at,  # type: ignore[attr-defined]
                "created_by": s.created_by.username if s.created_by else None}  # type: ignore[attr-defined]


class SnapshotPage(Schema):
    items: list[SnapshotOut]
    next: str | None


class ExportIn(In):
    format: Literal["coco", "yolo", "voc", "labelop"]
    # none: annotations only; redacted: renditions; original: as the profile allows
    images: Literal["none", "redacted", "original"] = "none"


class ExportStarted(Schema):
    job: int
    export: int


class LabelImportIn(In):
    format: Literal["coco", "yolo", "voc", "labelstudio", "labelop"]
    dry_run: bool = False  # report what would change; write nothing
    mode: Literal["replace", "merge"] = "replace"  # imported shapes replace a task's, or join
    add_labels: bool = False  # labels missing from the schema are added (else reported)


class LabelImportStarted(Schema):
    job: int


class PublicKeyOut(Schema):
    algorithm: str
    public_key: str  # raw Ed25519 public key, base64
