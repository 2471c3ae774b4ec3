"""Exports: a zip made from one snapshot, in the background, with the images the profile
allows (none, redacted renditions, or originals: by the owner, by an approved exception, or
never); stored as an object with its SHA-256; downloads audited, owners only, expiring."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from datetime import timedelta
from typing import IO, Any

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
from labelop.releases.models import Export, Snapshot
from labelop.releases.selectors import signed_file
from labelop.storage.services import object_put, object_read

FORMATS = ("coco", "yolo", "voc", "labelop")
# Where each format keeps the images, as the tools that read it expect.
IMAGE_DIR = {"coco": "images", "yolo": "images", "voc": "JPEGImages", "labelop": "images"}
IMAGES = ("none", "redacted", "original")
CHUNK = 1024 * 1024


class Gone(DomainError):
    status = 410
    code = "export_expired"


def export_start(*, actor: Actor, snapshot: Snapshot, format: str, images: str) -> Export:
    project = snapshot.project
    require(actor, Action.EXPORT_CREATE, project)
    if format not in FORMATS:
        raise Invalid(f"Formats: {', '.join(FORMATS)}.", code="unknown_format")
    if images not in IMAGES:
        raise Invalid(f"images is one of {', '.join(IMAGES)}.", code="unknown_images")
    from labelop.releases.jobs import export_run_job

    with transaction.atomic():
        refusal = _originals_refusal(actor, snapshot) if images == "original" else None
        if refusal is None:
            export = _create(actor, snapshot, format, images, export_run_job)
    if refusal is not None:  # recorded in a transaction of its own: it stays
        record(actor=actor, action=AuditAction.EXPORT_REFUSED, project=project,
               target=f"snapshot:{snapshot.pk}", details={"images": images, "reason": refusal})
        raise Forbidden(refusal, code="originals_forbidden")
    return export


def _create(actor: Actor, snapshot: Snapshot, format: str, images: str, job: Any) -> Export:
    project = snapshot.project
    export = Export.objects.create(
        snapshot=snapshot, format=format, images=images, created_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.LABELOP_EXPORT_DAYS))
    export.job = job_create(kind="export", project_id=project.pk, created_by=actor.user,
                            params={"export": export.pk},
                            enqueue=lambda job_id: job.enqueue(job_id))
    export.save(update_fields=["job"])
    record(actor=actor, action=AuditAction.EXPORT_STARTED, project=project,
           target=f"export:{export.pk}", details={
               "snapshot": snapshot.pk, "format": format, "images": images})
    return export


def _originals_refusal(actor: Actor, snapshot: Snapshot) -> str | None:
    """The profile's row "exports with original images", enforced: None when allowed (an
    approved exception is used up in the caller's transaction, with the export), else why."""
    project = snapshot.project
    rule = policy_of(project).exports_with_originals
    if rule == "owner":
        return None
    if rule == "by_exception" and use_exception(actor=actor, project=project,
                                                action=EXPORT_ORIGINALS):
        return None
    return ("This project's policy never lets original images leave: export redacted images "
            "or annotations only." if rule == "never" else
            "This project's policy lets original images leave only by an exception: ask for "
            "'export:originals' and have another owner approve it.")


def export_run(job: Job) -> dict[str, Any]:
    """The job's work: the zip written to a temporary file entry by entry (memory stays
    flat), then stored under the project's location with its SHA-256."""
    export = Export.objects.select_related("snapshot", "snapshot__project").get(
        pk=job.params["export"])
    snapshot = export.snapshot
    if _originals_now_never(export):
        raise Invalid("The project's policy now keeps original images in: export redacted "
                      "images instead.", code="originals_forbidden")
    manifest = json.loads(signed_file(snapshot))["manifest"]
    tasks = manifest["tasks"]
    job_progress(job, done=0, total=len(tasks))
    assets = {a.sha256: a for a in Asset.objects.filter(project=snapshot.project)
              .select_related("location")}
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            with zf.open("manifest.signed.json", "w") as entry:
                entry.write(signed_file(snapshot))
            names = _box_labels(manifest)
            if export.format == "coco":
                with zf.open("annotations/instances.json", "w") as entry:
                    _coco(entry, manifest)
            elif export.format == "yolo":
                zf.writestr("data.yaml", _yolo_yaml(names))
            elif export.format == "voc":
                zf.writestr("labelmap.txt", "".join(f"{n}:::\n" for n in names))
                zf.writestr("ImageSets/Main/default.txt",
                            "".join(f"{_stem(t)}\n" for t in tasks))
            else:
                with zf.open("labelop.json", "w") as entry:
                    entry.write(json.dumps(manifest, ensure_ascii=False).encode())
            for done, task in enumerate(tasks, start=1):
                if export.format == "yolo":
                    zf.writestr(f"labels/{_stem(task)}.txt", _yolo_lines(task, names))
                elif export.format == "voc":
                    zf.writestr(f"Annotations/{_stem(task)}.xml", _voc_xml(task, names))
                if export.images != "none":
                    asset = assets.get(task["image_sha256"])
                    if asset is None:
                        raise Invalid(f"The image of task {task['id']} ({task['image']}) is "
                                      "no longer stored; export without images.",
                                      code="image_gone")
                    data = _image(asset, task, export.images, snapshot)
                    with zf.open(f"{IMAGE_DIR[export.format]}/{_file_name(task)}",
                                 "w") as entry:
                        entry.write(data)
                if done % 200 == 0:
                    job_progress(job, done=done)
        spool.seek(0)
        digest = hashlib.sha256()
        for block in iter(lambda: spool.read(CHUNK), b""):
            digest.update(block)
        size = spool.tell()
        spool.seek(0)
        location = project_location(snapshot.project)
        key = f"p{snapshot.project_id}/exports/{export.pk}-{digest.hexdigest()[:16]}.zip"
        object_put(location, key, iter(lambda: spool.read(CHUNK), b""))
    Export.objects.filter(pk=export.pk).update(location=location, object_key=key,
                                               sha256=digest.hexdigest(), size=size)
    job_progress(job, done=len(tasks))
    return {"export": export.pk, "sha256": digest.hexdigest(), "size": size}


def _originals_now_never(export: Export) -> bool:
    """An export of originals made before the policy tightened to "never": neither made nor
    handed out any more."""
    return (export.images == "original"
            and policy_of(export.snapshot.project).exports_with_originals == "never")


def _file_name(task: dict) -> str:
    return f"{task['id']}-{task['image']}"


def _stem(task: dict) -> str:
    return _file_name(task).rsplit(".", 1)[0]


def _box_labels(manifest: dict) -> list[str]:
    """The labels that become objects (boxes and polygons), in schema order."""
    return [label["name"] for label in manifest["labels"]
            if label.get("kind") in {"bbox", "polygon"}]


def _bounds(shape: dict) -> tuple[float, float, float, float] | None:
    """x, y, w, h of a box or of a polygon's bounding box."""
    if shape["type"] == "bbox":
        return shape["x"], shape["y"], shape["w"], shape["h"]
    if shape["type"] == "polygon":
        xs, ys = [p[0] for p in shape["points"]], [p[1] for p in shape["points"]]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    return None


def _objects(task: dict, names: list[str]) -> list[tuple[int, tuple[float, float, float, float]]]:
    found = []
    for shape in task["shapes"]:
        bounds = _bounds(shape)
        if bounds is not None and shape.get("label") in names:
            found.append((names.index(shape["label"]), bounds))
    return found


def _yolo_yaml(names: list[str]) -> str:
    listed = "\n".join(f"  {i}: {json.dumps(n)}" for i, n in enumerate(names))
    return f"path: .\ntrain: images\nval: images\nnc: {len(names)}\nnames:\n{listed}\n"


def _yolo_lines(task: dict, names: list[str]) -> str:
    """One line per object: class, centre x, centre y, width, height, all over the image."""
    width, height = task["width"], task["height"]
    return "".join(f"{cls} {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} "
                   f"{w / width:.6f} {h / height:.6f}\n"
                   for cls, (x, y, w, h) in _objects(task, names))


def _voc_xml(task: dict, names: list[str]) -> bytes:
    from xml.etree import ElementTree as ET

    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "JPEGImages"
    ET.SubElement(root, "filename").text = _file_name(task)
    size = ET.SubElement(root, "size")
    for tag, value in (("width", task["width"]), ("height", task["height"]), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for cls, (x, y, w, h) in _objects(task, names):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = names[cls]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w), ("ymax", y + h)):
            ET.SubElement(box, tag).text = f"{value:g}"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _image(asset: Asset, task: dict, images: str, snapshot: Snapshot) -> bytes:
    if images == "original":
        return b"".join(object_read(asset.location, asset.object_key, asset.parts, 1))
    # Every region ever saved up to the snapshot: one shrunk before it hides nothing less.
    regions = regions_ever(asset, every_revision=True, until=snapshot.created_at,
                           also=[s for s in task["shapes"] if s.get("type") == "redaction"])
    return rendition_of(asset, regions)[1]


def _coco(out: IO[bytes], manifest: dict) -> None:
    """COCO instances: one image per task, boxes and polygons by label (tags and redaction
    regions are not COCO objects)."""
    category = {name: i for i, name in enumerate(_box_labels(manifest), start=1)}
    out.write(b'{"info":' + json.dumps({"description": manifest["name"],
                                         "project": manifest["project"]["name"]}).encode())
    out.write(b',"categories":' + json.dumps(
        [{"id": i, "name": n, "supercategory": ""} for n, i in category.items()]).encode())
    out.write(b',"images":[')
    for i, task in enumerate(manifest["tasks"]):
        out.write((b"," if i else b"") + json.dumps(
            {"id": task["id"], "file_name": _file_name(task), "width": task.get("width"),
             "height": task.get("height")}).encode())
    out.write(b'],"annotations":[')
    first, n = True, 0
    for task in manifest["tasks"]:
        for shape in task["shapes"]:
            row = _coco_annotation(shape, category)
            if row is None:
                continue
            n += 1
            out.write((b"" if first else b",") + json.dumps(
                {"id": n, "image_id": task["id"], "iscrowd": 0, **row}).encode())
            first = False
    out.write(b"]}")


def _coco_annotation(shape: dict, category: dict[str, int]) -> dict | None:
    if shape.get("label") not in category:
        return None
    if shape["type"] == "bbox":
        x, y, w, h = (shape[k] for k in ("x", "y", "w", "h"))
        return {"category_id": category[shape["label"]], "bbox": [x, y, w, h], "area": w * h,
                "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]}
    if shape["type"] == "polygon":
        xs = [p[0] for p in shape["points"]]
        ys = [p[1] for p in shape["points"]]
        area = abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))) / 2
        return {"category_id": category[shape["label"]],
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "area": area, "segmentation": [[c for p in shape["points"] for c in p]]}
    return None


def export_download(*, actor: Actor, export_id: int) -> tuple[Export, bytes]:
    export = (Export.objects.select_related("snapshot", "location", "job")
              .filter(pk=export_id).first())
    if export is None:
        raise NotFound("Not found.")
    require(actor, Action.EXPORT_CREATE, export.snapshot.project)
    if export.expires_at <= timezone.now():
        raise Gone("This export has expired; make a new one from the snapshot.")
    if _originals_now_never(export):
        raise Forbidden("The project's policy now keeps original images in.",
                        code="originals_forbidden")
    if not export.object_key or export.location is None:
        job = export.job
        if job is not None and job.status == "failed":
            raise Conflict(f"The export failed: {(job.error or {}).get('message', '')}",
                           code="export_failed")
        raise Conflict("The export is still being made; its job tells the progress.",
                       code="export_not_ready")
    data = b"".join(object_read(export.location, export.object_key))
    record(actor=actor, action=AuditAction.EXPORT_DOWNLOADED, project=export.snapshot.project,
           target=f"export:{export.pk}", details={"sha256": export.sha256, "size": export.size})
    return export, data
