"""Exports: the profile's row "exports with original images" for every profile, a COCO file
with the right counts, images as the request and the profile say, downloads for owners only,
audited, and expiring."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from labelop.annotations.models import Annotation, Task, TaskState
from labelop.audit.models import AuditEvent
from labelop.jobs.models import Job
from labelop.projects.models import Sensitivity
from labelop.releases.models import Export
from tests.conftest import World, api_for, run_jobs
from tests.labeling import LABELS

BOX = {"id": "b1", "type": "bbox", "label": "car", "x": 1, "y": 2, "w": 30, "h": 20,
       "attributes": {"plate": "X"}}
ROAD = {"id": "r1", "type": "polygon", "label": "road", "points": [[0, 0], [10, 0], [0, 10]]}
HIDE = {"id": "h1", "type": "redaction", "method": "fill", "x": 0, "y": 0, "w": 20, "h": 20}


def _snapshot(world: World, profile: Sensitivity) -> int:
    world.project.sensitivity = profile
    world.project.labels = LABELS
    world.project.save()
    task = world.asset.task
    Task.objects.filter(pk=task.pk).update(state=TaskState.ACCEPTED)
    Annotation.objects.create(task=task, shapes=[BOX, ROAD, HIDE])
    return api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/snapshots",
                                              {"name": "r1"}).json()["id"]


def _made(world: World, *requests: tuple[str, str]) -> tuple[object, list[int]]:
    """The owner's client and the ids of finished exports of a fresh standard snapshot, one
    per (format, images)."""
    snapshot = _snapshot(world, Sensitivity.STANDARD)
    owner = api_for(world.users["owner"])
    made = [owner.post(f"/snapshots/{snapshot}/exports", {"format": f, "images": i}
                       ).json()["export"] for f, i in requests]
    run_jobs()
    return owner, made


def _pycocotools(data: bytes):
    """The COCO reference loader, as real training code reads the file."""
    import tempfile

    from pycocotools.coco import COCO

    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(data)
        f.flush()
        return COCO(f.name)


def _zip(owner, export_id: int) -> zipfile.ZipFile:
    response = owner.get(f"/exports/{export_id}/download")
    assert response.status_code == 200, response.content
    data = b"".join(response.streaming_content)
    import base64
    import hashlib

    assert response["Digest"] == "sha-256=" + base64.b64encode(
        hashlib.sha256(data).digest()).decode()
    return zipfile.ZipFile(io.BytesIO(data))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("profile", "originals"), [
    (Sensitivity.STANDARD, "allowed"), (Sensitivity.RESTRICTED, "by exception"),
    (Sensitivity.LOCAL_ONLY, "never")])
def test_exports_with_original_images(image_world: World, profile: Sensitivity,
                                      originals: str) -> None:
    world = image_world
    snapshot = _snapshot(world, profile)
    owner = api_for(world.users["owner"])
    path = f"/snapshots/{snapshot}/exports"

    asked = owner.post(path, {"format": "coco", "images": "original"})

    if originals == "allowed":
        assert asked.status_code == 202, asked.content
    else:
        assert asked.status_code == 403
        assert asked.json()["code"] == "originals_forbidden"
        assert AuditEvent.objects.filter(action="export.refused").exists()
    if originals == "by exception":  # asked by one owner, approved by another, used once
        from labelop.permissions import Role
        from labelop.projects.models import Membership
        from tests.conftest import make_user

        second = make_user("second-owner")
        Membership.objects.create(project=world.project, user=second, role=Role.OWNER)
        exception = owner.post(f"/projects/{world.project.pk}/exceptions",
                               {"action": "export:originals", "reason": "the vendor audit"})
        assert exception.status_code == 201, exception.content
        assert api_for(second).post(
            f"/exceptions/{exception.json()['id']}/approve").status_code == 200
        assert owner.post(path, {"format": "coco", "images": "original"}).status_code == 202
        assert owner.post(path, {"format": "coco", "images": "original"}).status_code == 403
    # Redacted images and annotations alone are always allowed.
    assert owner.post(path, {"format": "coco", "images": "redacted"}).status_code == 202
    assert owner.post(path, {"format": "labelop", "images": "none"}).status_code == 202
    run_jobs()
    assert all(j.status == "succeeded" for j in Job.objects.filter(kind="export")), [
        j.error for j in Job.objects.filter(kind="export")]


@pytest.mark.django_db(transaction=True)
def test_a_coco_export_holds_the_snapshot(image_world: World) -> None:
    world = image_world
    owner, [made] = _made(world, ("coco", "original"))

    archive = _zip(owner, made)
    coco = json.loads(archive.read("annotations/instances_default.json"))
    assert [c["name"] for c in coco["categories"]] == ["car", "road"]
    [image] = coco["images"]
    assert (image["width"], image["height"]) == (world.asset.width, world.asset.height)
    assert len(coco["annotations"]) == 2  # the box and the polygon; not the redaction
    box = next(a for a in coco["annotations"] if a["bbox"] == [1, 2, 30, 20])
    assert box["area"] == 600
    loaded = _pycocotools(archive.read("annotations/instances_default.json"))
    assert len(loaded.getImgIds()) == 1
    assert len(loaded.getAnnIds()) == 2
    assert [c["name"] for c in loaded.loadCats(loaded.getCatIds())] == ["car", "road"]
    assert archive.read(f"images/default/{image['file_name']}")[:2] == b"\xff\xd8"
    export = Export.objects.get(pk=made)
    assert len(export.sha256) == 64
    assert AuditEvent.objects.filter(action="export.downloaded").count() == 1
    assert api_for(world.users["reviewer"]).get(
        f"/exports/{export.pk}/download").status_code == 403
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert owner.get(f"/exports/{export.pk}/download").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_yolo_and_voc_exports_hold_the_boxes(image_world: World) -> None:
    from xml.etree import ElementTree as ET

    world = image_world
    owner, (yolo, voc) = _made(world, ("yolo", "redacted"), ("voc", "none"))
    w, h = world.asset.width, world.asset.height

    archive = _zip(owner, yolo)
    assert "names:\n  0: \"car\"\n  1: \"road\"" in archive.read("data.yaml").decode()
    [labels] = [n for n in archive.namelist() if n.startswith("labels/")]
    lines = archive.read(labels).decode().splitlines()
    assert lines[0] == f"0 {16 / w:.6f} {12 / h:.6f} {30 / w:.6f} {20 / h:.6f}"
    assert lines[1].startswith("1 ")  # the road polygon, by its bounding box
    [image] = [n for n in archive.namelist() if n.startswith("images/")]
    assert labels.removeprefix("labels/").removesuffix(".txt") == (
        image.removeprefix("images/").rsplit(".", 1)[0])

    archive = _zip(owner, voc)
    [xml] = [n for n in archive.namelist() if n.startswith("Annotations/")]
    root = ET.fromstring(archive.read(xml))  # noqa: S314 (our own export)
    assert root.findtext("size/width") == str(w)
    objects = root.findall("object")
    assert [o.findtext("name") for o in objects] == ["car", "road"]
    assert [objects[0].findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")] == [
        "1", "2", "31", "22"]
    assert archive.read("ImageSets/Main/default.txt").decode().strip() == (
        xml.removeprefix("Annotations/").removesuffix(".xml"))
    assert not [n for n in archive.namelist() if n.startswith("JPEGImages/")]


@pytest.mark.django_db(transaction=True)
def test_a_redaction_shrunk_before_the_snapshot_still_hides_its_area(image_world: World) -> None:
    from labelop.annotations.services import annotation_save
    from labelop.annotations.shapes import Redaction

    world = image_world
    world.project.sensitivity = Sensitivity.STANDARD
    world.project.save()
    task = world.asset.task
    annotator = world.actor("annotator")
    whole = Redaction(type="redaction", id="r", method="fill", x=0, y=0, w=world.asset.width,
                      h=world.asset.height)
    tiny = Redaction(type="redaction", id="r", method="fill", x=0, y=0, w=1, h=1)
    annotation_save(actor=annotator, task_id=task.pk, if_match=0, shapes=[whole])
    annotation_save(actor=annotator, task_id=task.pk, if_match=1, shapes=[tiny])
    Task.objects.filter(pk=task.pk).update(state=TaskState.ACCEPTED)
    owner = api_for(world.users["owner"])
    snapshot = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "s"}).json()
    made = owner.post(f"/snapshots/{snapshot['id']}/exports",
                      {"format": "labelop", "images": "redacted"}).json()
    run_jobs()

    archive = _zip(owner, made["export"])
    [name] = [n for n in archive.namelist() if n.startswith("images/")]
    from PIL import Image

    pixels = Image.open(io.BytesIO(archive.read(name))).convert("L")
    assert pixels.getextrema()[1] < 16  # all black: the first, whole-image region holds


@pytest.mark.django_db(transaction=True)
def test_a_labelop_export_is_lossless_and_summarises_revisions(image_world: World) -> None:
    from labelop.annotations.models import AnnotationRevision

    world = image_world
    task = world.asset.task
    AnnotationRevision.objects.create(task=task, version=1, shapes=[BOX], author_name="annotator")
    AnnotationRevision.objects.create(task=task, version=2, shapes=[BOX, ROAD],
                                      author_name="reviewer")
    owner, [made] = _made(world, ("labelop", "none"))

    archive = _zip(owner, made)
    exported = json.loads(archive.read("labelop.json"))
    signed = json.loads(archive.read("manifest.signed.json"))
    [row] = exported["tasks"]
    assert row["shapes"] == [BOX, ROAD, HIDE]  # every type, attributes included
    assert row["revisions"]["count"] == 2
    assert row["revisions"]["authors"] == ["annotator", "reviewer"]
    assert {k: v for k, v in row.items() if k != "revisions"} == signed["manifest"]["tasks"][0]
    assert exported["counts"] == signed["manifest"]["counts"]
    assert Job.objects.get(kind="export").result["tasks"] == 1


@pytest.mark.django_db(transaction=True)
def test_an_owners_originals_are_not_handed_out_once_the_profile_tightens(
        image_world: World) -> None:
    world = image_world
    owner, [made] = _made(world, ("coco", "original"))
    assert owner.get(f"/exports/{made}/download").status_code == 200

    world.project.refresh_from_db()
    world.project.sensitivity = Sensitivity.RESTRICTED  # originals only by an exception now
    world.project.save(update_fields=["sensitivity"])

    refused = owner.get(f"/exports/{made}/download")
    assert refused.status_code == 403
    assert refused.json()["code"] == "originals_forbidden"
    assert AuditEvent.objects.filter(action="export.downloaded").count() == 1
