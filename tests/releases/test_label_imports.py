"""Label imports: LabelOp's own exports come back onto a fresh project's copies of the images
with the same shapes; a dry run says what would change and writes nothing; bad items are
named and skipped while the good ones land; Label Studio's percent regions become pixels."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction

from labelop.annotations.models import (
    Annotation,
    AnnotationRevision,
    Task,
    TaskLabel,
    TaskState,
)
from labelop.annotations.services import annotation_save
from labelop.annotations.shapes import SHAPE_LIST
from labelop.assets.ingest import ingest
from labelop.assets.services import project_location
from labelop.audit.models import AuditEvent
from labelop.jobs.models import Job
from labelop.permissions import Actor
from labelop.projects.models import Membership, Project, Sensitivity
from labelop.releases import imports
from tests import images
from tests.conftest import World, api_for, elsewhere, run_jobs
from tests.labeling import LABELS

pytestmark = pytest.mark.django_db(transaction=True)
SIZE = (200, 150)
SHAPES = [
    [{"id": "a", "type": "bbox", "label": "car", "x": 10, "y": 20, "w": 30, "h": 40,
      "attributes": {"plate": "AB-1"}},
     {"id": "b", "type": "polygon", "label": "road", "points": [[0, 0], [50, 10], [20, 60]]},
     {"id": "c", "type": "tag", "label": "night"},
     {"id": "d", "type": "redaction", "method": "blur", "x": 1, "y": 1, "w": 5, "h": 5}],
    [{"id": "e", "type": "bbox", "label": "car", "x": 100.5, "y": 0, "w": 99.5, "h": 150,
      "attributes": {"plate": "CD-2"}}],
]


def _project(world: World, name: str) -> Project:
    project = Project.objects.create(name=name, sensitivity=Sensitivity.STANDARD,
                                     review_required=False, labels=LABELS,
                                     created_by=world.users["owner"])
    Membership.objects.create(project=project, user=world.users["owner"], role="owner")
    return project


def _images(project: Project, owner, count: int = 2) -> list[Task]:
    return [ingest(project=project, location=project_location(project),
                   data=images.jpeg(seed=100 + i, size=SIZE), name=f"photo-{i}.jpg",
                   created_by=owner, via="upload").task for i in range(count)]


def _draw(task: Task, shapes: list[dict]) -> None:
    """The task's shapes, and their count on the task, as a save keeps them."""
    Annotation.objects.create(task=task, shapes=shapes)
    Task.objects.filter(pk=task.pk).update(shape_count=len(shapes))


def _exported(world: World, fmt: str) -> bytes:
    """A finished export of a source project whose two images carry SHAPES."""
    source = _project(world, "source")
    for task, shapes in zip(_images(source, world.users["owner"]), SHAPES, strict=True):
        Task.objects.filter(pk=task.pk).update(state=TaskState.SUBMITTED)
        _draw(task, shapes)
    owner = api_for(world.users["owner"])
    snapshot = owner.post(f"/projects/{source.pk}/snapshots", {"name": "v1"}).json()["id"]
    export = owner.post(f"/snapshots/{snapshot}/exports",
                        {"format": fmt, "images": "none"}).json()["export"]
    run_jobs()
    return b"".join(owner.get(f"/exports/{export}/download").streaming_content)


def _import(world: World, project: Project, data: bytes, name: str, **form: object) -> Job:
    owner = api_for(world.users["owner"])
    response = owner.client.post(
        f"/api/v1/projects/{project.pk}/label-imports",
        {"file": SimpleUploadedFile(name, data), **form}, headers=owner.headers)
    assert response.status_code == 202, response.content
    run_jobs()
    job = Job.objects.get(pk=response.json()["job"])
    assert job.status == "succeeded", job.error
    return job


def _shapes(task: Task) -> list[dict]:
    annotation = Annotation.objects.filter(task=task).first()
    return [{k: v for k, v in s.items() if k != "id"} for s in (annotation.shapes
                                                                if annotation else [])]


def _without_ids(shapes: list[dict]) -> list[dict]:
    return [{k: v for k, v in s.items() if k != "id"} for s in shapes]


@pytest.mark.parametrize(("fmt", "kept"), [
    ("labelop", lambda s: True),  # lossless: every shape type and attribute
    ("coco", lambda s: s["type"] in {"bbox", "polygon"}),
])
def test_an_export_comes_back_onto_a_fresh_project_with_the_same_shapes(
        world: World, data_dir, fmt: str, kept) -> None:
    exported = _exported(world, fmt)
    fresh = _project(world, "fresh")
    tasks = _images(fresh, world.users["owner"])

    job = _import(world, fresh, exported, "export.zip", format=fmt)

    for task, shapes in zip(tasks, SHAPES, strict=True):
        want = [s for s in _without_ids(shapes) if kept(s)]
        if fmt == "coco":
            want = [{k: v for k, v in s.items() if k != "attributes"} for s in want]
        assert _shapes(task) == want
        # the label filter of the task list counts what the import drew
        assert dict(TaskLabel.objects.filter(task=task).values_list("label", "shapes")) == \
            Counter(s["label"] for s in want if "label" in s)
    assert job.result["tasks_changed"] == 2
    assert job.result["matched"] == 2
    assert job.result["error_count"] == 0
    [event] = AuditEvent.objects.filter(action="labels.imported", project=fresh)
    assert json.loads(event.details)["count"] == 2
    revision = AnnotationRevision.objects.get(task=tasks[0])
    assert (revision.version, revision.author_name) == (1, "owner")
    assert Task.objects.get(pk=tasks[0].pk).version == 1


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_yolo_and_voc_boxes_come_back_by_file_name(world: World, data_dir, fmt: str) -> None:
    exported = _exported(world, fmt)
    fresh = _project(world, "fresh")
    tasks = _images(fresh, world.users["owner"])

    job = _import(world, fresh, exported, "export.zip", format=fmt)

    assert job.result["matched"] == 2, job.result
    [box] = _shapes(tasks[1])
    assert box["type"] == "bbox"
    for key, want in (("x", 100.5), ("y", 0), ("w", 99.5), ("h", 150)):
        assert box[key] == pytest.approx(want, abs=0.01)
    # The road polygon comes back as its bounding box drawn as a polygon (VOC and YOLO
    # carry boxes only); the car keeps its box.
    kinds = sorted(s["type"] for s in _shapes(tasks[0]))
    assert kinds == ["bbox", "polygon"]


def test_a_dry_run_reports_and_writes_nothing(world: World, data_dir) -> None:
    exported = _exported(world, "labelop")
    fresh = _project(world, "fresh")
    tasks = _images(fresh, world.users["owner"])
    events = AuditEvent.objects.exclude(action="token.created").count()

    job = _import(world, fresh, exported, "export.zip", format="labelop", dry_run=True)

    assert job.result["dry_run"] is True
    assert job.result["tasks_changed"] == 2
    assert job.result["shapes_added"] == 5
    assert [c["shapes_after"] for c in job.result["changes"]] == [4, 1]
    assert not Annotation.objects.filter(task__in=tasks).exists()
    new = AuditEvent.objects.exclude(action="token.created").order_by("seq")[events:]
    assert [e.action for e in new] == ["labels.import_requested"]
    assert Task.objects.get(pk=tasks[0].pk).version == 0


def _coco(images_: list[dict], annotations: list[dict]) -> bytes:
    return json.dumps({"images": images_, "annotations": annotations,
                       "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "truck"}]}
                      ).encode()


def test_bad_items_are_named_and_the_good_ones_land(world: World, data_dir) -> None:
    project = _project(world, "target")
    good, accepted, outside = _images(project, world.users["owner"], 3)
    assert outside.asset.width == 200  # its box below leaves the image
    Task.objects.filter(pk=accepted.pk).update(state=TaskState.ACCEPTED)
    box = {"category_id": 1, "bbox": [1, 1, 10, 10],
           "segmentation": [[1, 1, 11, 1, 11, 11, 1, 11]]}
    data = _coco(
        [{"id": 1, "file_name": "photo-0.jpg", "width": 200, "height": 150},
         {"id": 2, "file_name": "photo-1.jpg", "width": 200, "height": 150},
         {"id": 3, "file_name": "photo-2.jpg", "width": 200, "height": 150},
         {"id": 4, "file_name": "nowhere.jpg", "width": 200, "height": 150}],
        [{"id": 1, "image_id": 1, **box}, {"id": 2, "image_id": 1, **box, "category_id": 2},
         {"id": 3, "image_id": 2, **box},
         {"id": 4, "image_id": 3, **box, "bbox": [190, 140, 50, 50], "segmentation": []}])

    job = _import(world, project, data, "instances.json", format="coco")

    result = job.result
    assert (result["items"], result["matched"], result["unmatched"]) == (4, 3, 1)
    assert result["unmatched_names"] == ["nowhere.jpg"]
    assert result["unknown_labels"] == {"truck": 1}
    codes = {e["code"] for e in result["errors"]}
    assert {"task_accepted", "out_of_bounds"} <= codes, result["errors"]
    assert _shapes(good) == [{"type": "bbox", "label": "car", "x": 1, "y": 1, "w": 10, "h": 10}]
    assert _shapes(accepted) == []
    assert result["tasks_changed"] == 1


def test_merge_keeps_what_is_drawn_and_add_labels_extends_the_schema(world: World,
                                                                    data_dir) -> None:
    project = _project(world, "target")
    [task] = _images(project, world.users["owner"], 1)
    mine = {"id": "m", "type": "bbox", "label": "car", "x": 5, "y": 5, "w": 5, "h": 5}
    _draw(task, [mine])
    data = _coco([{"id": 1, "file_name": "photo-0.jpg", "width": 200, "height": 150}],
                 [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [20, 20, 10, 10]},
                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 5, 5]}])

    job = _import(world, project, data, "instances.json", format="coco", mode="merge",
                  add_labels=True)

    assert job.result["labels_added"] == ["truck"]
    assert job.result["shapes_added"] == 1  # the car drawn already is not added twice
    shapes = Annotation.objects.get(task=task).shapes
    assert shapes[0] == mine
    assert [(s["label"], s["x"]) for s in shapes[1:]] == [("truck", 20)]
    project.refresh_from_db()
    assert project.labels[-1]["name"] == "truck"
    assert project.labels[-1]["kind"] == "bbox"


def test_label_studio_regions_become_pixels(world: World, data_dir) -> None:
    project = _project(world, "target")
    [task] = _images(project, world.users["owner"], 1)
    exported = [{"id": 7, "data": {"image": "/data/upload/3/5d2f1a3c-photo-0.jpg"},
                 "annotations": [{"was_cancelled": False, "result": [
                     {"type": "rectanglelabels", "original_width": 200, "original_height": 150,
                      "value": {"x": 10, "y": 20, "width": 25, "height": 50, "rotation": 0,
                                "rectanglelabels": ["car"]}},
                     {"type": "polygonlabels", "value": {
                         "points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["road"]}},
                     {"type": "choices", "value": {"choices": ["night"]}}]}]}]

    job = _import(world, project, json.dumps(exported).encode(), "project.json",
                  format="labelstudio")

    assert job.result["tasks_changed"] == 1, job.result
    assert _shapes(task) == [
        {"type": "bbox", "label": "car", "x": 20, "y": 30, "w": 50, "h": 75},
        {"type": "polygon", "label": "road", "points": [[0, 0], [100, 0], [100, 75]]},
        {"type": "tag", "label": "night"}]


def test_an_unreadable_file_fails_the_job_with_a_reason(world: World, data_dir) -> None:
    project = _project(world, "target")
    owner = api_for(world.users["owner"])
    response = owner.client.post(
        f"/api/v1/projects/{project.pk}/label-imports",
        {"file": SimpleUploadedFile("instances.json", b"{not json"), "format": "coco"},
        headers=owner.headers)
    run_jobs()

    job = Job.objects.get(pk=response.json()["job"])
    assert job.status == "failed"
    assert "not valid JSON" in job.error["message"]
    assert not AuditEvent.objects.filter(action="labels.imported").exists()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    bad_format = owner.client.post(
        f"/api/v1/projects/{project.pk}/label-imports",
        {"file": SimpleUploadedFile("x.zip", zipped.getvalue()), "format": "pascal"},
        headers=owner.headers)
    assert bad_format.status_code == 422


def test_labels_are_added_only_under_the_schema_rules(world: World, data_dir) -> None:
    project = _project(world, "target")
    [task] = _images(project, world.users["owner"], 1)
    long_name = "x" * 150
    data = json.dumps({
        "images": [{"id": 1, "file_name": "photo-0.jpg", "width": 200, "height": 150}],
        "categories": [{"id": 1, "name": "CAR"}, {"id": 2, "name": long_name},
                       {"id": 3, "name": "bus"}],
        "annotations": [{"id": i, "image_id": 1, "category_id": c, "bbox": [i, i, 5, 5]}
                        for i, c in ((1, 1), (2, 2), (3, 3), (4, 2))]}).encode()

    job = _import(world, project, data, "instances.json", format="coco", add_labels=True)

    assert job.result["labels_added"] == ["bus"]
    refused = [e for e in job.result["errors"] if e["code"] == "label_not_added"]
    assert len(refused) == 2  # once per label, not per shape
    assert "only in case" in refused[0]["message"]
    assert job.result["unknown_labels"] == {"CAR": 1, long_name: 2}
    assert [s["label"] for s in _shapes(task)] == ["bus"]


def test_a_typo_in_the_form_is_refused_not_ignored(world: World, data_dir) -> None:
    project = _project(world, "target")
    owner = api_for(world.users["owner"])
    response = owner.client.post(
        f"/api/v1/projects/{project.pk}/label-imports",
        {"file": SimpleUploadedFile("x.json", b"{}"), "format": "coco", "dryrun": "true"},
        headers=owner.headers)
    assert response.status_code == 422, response.content
    assert not Job.objects.exists()


def test_replacing_from_a_peer_format_keeps_the_redaction_regions(world: World,
                                                                  data_dir) -> None:
    project = _project(world, "target")
    [task] = _images(project, world.users["owner"], 1)
    region = {"id": "r", "type": "redaction", "method": "fill", "x": 0, "y": 0, "w": 9, "h": 9}
    _draw(task, [region, {
        "id": "old", "type": "bbox", "label": "car", "x": 50, "y": 50, "w": 5, "h": 5}])
    data = _coco([{"id": 1, "file_name": "photo-0.jpg", "width": 200, "height": 150}],
                 [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10]}])

    job = _import(world, project, data, "instances.json", format="coco")

    shapes = Annotation.objects.get(task=task).shapes
    assert shapes[0] == region
    assert [(s["type"], s.get("x")) for s in shapes] == [("redaction", 0), ("bbox", 20)]
    assert (job.result["shapes_added"], job.result["shapes_removed"]) == (1, 1)
    requested = AuditEvent.objects.get(action="labels.import_requested", project=project)
    assert json.loads(requested.details)["format"] == "coco"


def test_an_import_of_someone_no_longer_owner_is_not_applied(world: World, data_dir) -> None:
    project = _project(world, "target")
    [task] = _images(project, world.users["owner"], 1)
    owner = api_for(world.users["owner"])
    data = _coco([{"id": 1, "file_name": "photo-0.jpg", "width": 200, "height": 150}],
                 [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10]}])
    response = owner.client.post(f"/api/v1/projects/{project.pk}/label-imports",
                                 {"file": SimpleUploadedFile("c.json", data), "format": "coco"},
                                 headers=owner.headers)
    Membership.objects.filter(project=project, user=world.users["owner"]).update(
        role="reviewer")

    run_jobs()

    assert Job.objects.get(pk=response.json()["job"]).status == "failed"
    assert not Annotation.objects.filter(task=task).exists()
    assert not AuditEvent.objects.filter(action="labels.imported").exists()


def _two_photos_and_their_boxes(world: World) -> tuple[Project, Task, Task, bytes]:
    project = _project(world, "target")
    first, second = _images(project, world.users["owner"], 2)
    data = _coco([{"id": i + 1, "file_name": f"photo-{i}.jpg", "width": 200, "height": 150}
                  for i in range(2)],
                 [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [20, 20, 10, 10]}
                  for i in range(2)])
    return project, first, second, data


def _meanwhile(monkeypatch, change: Callable[[], object]) -> None:
    """`change` runs between the import's reading of the tasks and its writing, on a
    connection of its own, as another person's request would."""
    planned = imports._plan

    def plan_then_change(*args):
        for i, chunk in enumerate(planned(*args)):
            if i == 0:
                elsewhere(change)
            yield chunk

    monkeypatch.setattr(imports, "_plan", plan_then_change)


def test_a_task_saved_while_the_import_ran_keeps_that_save_and_is_reported(
        world: World, data_dir, monkeypatch) -> None:
    project, first, second, data = _two_photos_and_their_boxes(world)
    saved = {"id": "s", "type": "bbox", "label": "car", "x": 1, "y": 2, "w": 3, "h": 4}
    _meanwhile(monkeypatch, lambda: annotation_save(
        actor=Actor(user=world.users["owner"]), task_id=first.pk,
        shapes=SHAPE_LIST.validate_python([saved]), if_match=0))
    job = _import(world, project, data, "instances.json", format="coco")

    assert job.result["tasks_changed"] == 1
    assert [e["code"] for e in job.result["errors"]] == ["changed_meanwhile"]
    assert Annotation.objects.get(task=first).shapes == [saved]
    assert [s["x"] for s in Annotation.objects.get(task=second).shapes] == [20]
    assert AnnotationRevision.objects.filter(task=first).count() == 1


def test_an_import_written_chunk_by_chunk_leaves_a_task_saved_meanwhile_alone(
        world: World, data_dir, monkeypatch) -> None:
    project = _project(world, "target")
    tasks = _images(project, world.users["owner"], 3)
    data = _coco([{"id": i + 1, "file_name": f"photo-{i}.jpg", "width": 200, "height": 150}
                  for i in range(3)],
                 [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [20 + i, 20, 10, 10]}
                  for i in range(3)])
    monkeypatch.setattr(imports, "_CHUNK", 1)  # each task a chunk (and a pipeline step) of its own
    saved = {"id": "s", "type": "bbox", "label": "car", "x": 1, "y": 2, "w": 3, "h": 4}
    _meanwhile(monkeypatch, lambda: annotation_save(
        actor=Actor(user=world.users["owner"]), task_id=tasks[2].pk,
        shapes=SHAPE_LIST.validate_python([saved]), if_match=0))
    job = _import(world, project, data, "instances.json", format="coco")

    assert job.result["tasks_changed"] == 2
    assert [e["code"] for e in job.result["errors"]] == ["changed_meanwhile"]
    for i, task in enumerate(tasks[:2]):
        assert [s["x"] for s in _shapes(task)] == [20 + i]
        assert Task.objects.get(pk=task.pk).version == 1
        assert dict(TaskLabel.objects.filter(task=task).values_list("label", "shapes")) == \
            {"car": 1}
    assert Annotation.objects.get(task=tasks[2]).shapes == [saved]
    assert AnnotationRevision.objects.filter(task=tasks[2]).count() == 1
    assert AnnotationRevision.objects.filter(task__in=tasks[:2]).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="only PostgreSQL writes a chunk while it checks the next")
def test_a_write_failing_while_the_next_chunk_is_read_fails_the_import_with_its_own_reason(
        world: World, data_dir, monkeypatch) -> None:
    project = _project(world, "target")
    tasks = _images(project, world.users["owner"], 3)
    for task in tasks:  # drawn: each chunk reads its tasks' shapes, with a write under way
        _draw(task, [{"id": "t", "type": "tag", "label": "night"}])
    data = _coco([{"id": i + 1, "file_name": f"photo-{i}.jpg", "width": 200, "height": 150}
                  for i in range(3)],
                 [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [20, 20, 10, 10]}
                  for i in range(3)])
    monkeypatch.setattr(imports, "_CHUNK", 1)
    entered = imports._Writer.__enter__

    def impatient(writer: imports._Writer) -> imports._Writer:
        entered(writer)
        writer.cursor.execute("SET LOCAL lock_timeout = '200ms'")
        return writer

    monkeypatch.setattr(imports._Writer, "__enter__", impatient)
    owner = api_for(world.users["owner"])
    response = owner.client.post(
        f"/api/v1/projects/{project.pk}/label-imports",
        {"file": SimpleUploadedFile("instances.json", data), "format": "coco"},
        headers=owner.headers)
    # The second task's claim waits for another transaction's lock until the third chunk's
    # read meets the timeout: that error, not the unread answer of the claim, fails the job.
    with _held(tasks[1]):
        run_jobs()

    job = Job.objects.get(pk=response.json()["job"])
    assert (job.status, job.error["code"]) == ("failed", "OperationalError")
    assert "lock timeout" in job.error["message"]
    assert [_shapes(task) for task in tasks] == [[{"type": "tag", "label": "night"}]] * 3
    assert not AnnotationRevision.objects.filter(task__in=tasks).exists()
    assert set(Task.objects.filter(pk__in=[t.pk for t in tasks]).values_list("version",
                                                                            flat=True)) == {0}
    assert not AuditEvent.objects.filter(action="labels.imported").exists()


@contextmanager
def _held(task: Task) -> Iterator[None]:
    """`task`'s row locked by another connection's transaction while the block runs."""
    held, done = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                Task.objects.select_for_update().get(pk=task.pk)
                held.set()
                done.wait(60)
        except BaseException as exc:  # raised again below, in the test
            failed.append(exc)
        finally:
            held.set()
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    try:
        if failed:
            raise failed[0]
        yield
    finally:
        done.set()
        thread.join()


def test_a_task_accepted_while_the_import_ran_is_left_alone_and_reported(
        world: World, data_dir, monkeypatch) -> None:
    project, first, second, data = _two_photos_and_their_boxes(world)
    # Its version stays: only its state says it moved on.
    _meanwhile(monkeypatch, lambda: Task.objects.filter(pk=first.pk).update(
        state=TaskState.ACCEPTED))
    job = _import(world, project, data, "instances.json", format="coco")

    assert job.result["tasks_changed"] == 1
    assert [e["code"] for e in job.result["errors"]] == ["changed_meanwhile"]
    assert not Annotation.objects.filter(task=first).exists()
    assert Task.objects.get(pk=first.pk).version == 0
    assert [s["x"] for s in Annotation.objects.get(task=second).shapes] == [20]
