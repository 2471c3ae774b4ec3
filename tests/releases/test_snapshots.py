"""Snapshots: the profile's review rule decides what enters; the manifest is signed, verifies
offline from the file alone, fails after one changed byte, and its row cannot change."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.db import DatabaseError, transaction
from django.utils import timezone

from labelop.annotations.models import Annotation, Task, TaskState
from labelop.audit.models import AuditEvent
from labelop.cli import main
from labelop.projects.models import Sensitivity
from labelop.releases.models import Snapshot
from labelop.releases.selectors import signed_file
from labelop.releases.signing import canonical, verify
from tests.conftest import World, api_for
from tests.labeling import LABELS, make_tasks

pytestmark = pytest.mark.usefixtures("data_dir")
BOX = {"id": "b1", "type": "bbox", "label": "car", "x": 1, "y": 2, "w": 30, "h": 20}


def _tasks(world: World) -> list[Task]:
    world.project.labels = LABELS
    world.project.save()
    tasks = make_tasks(world.project, 3, created_by=world.users["owner"])
    for task, state in zip(tasks, (TaskState.ACCEPTED, TaskState.SUBMITTED,
                                   TaskState.ASSIGNED), strict=True):
        Task.objects.filter(pk=task.pk).update(state=state, assignee=world.users["annotator"])
        Annotation.objects.create(task=task, shapes=[BOX])
    return tasks


def _signed(owner, snapshot_id: int) -> bytes:
    response = owner.get(f"/snapshots/{snapshot_id}/manifest")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_only_accepted_work_enters_where_review_is_required(world: World) -> None:
    accepted, _, _ = _tasks(world)
    owner = api_for(world.users["owner"])

    created = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "release 1"})

    assert created.status_code == 201, created.content
    assert created.json()["tasks"] == 1
    signed = _signed(owner, created.json()["id"])
    key = api_for(None).get("/instance/public-key").json()["public_key"]
    assert verify(signed, key) == (
        True, "hash and signature verify (1 tasks), signed by the given key")
    body = json.loads(signed)["manifest"]
    assert body["entering_states"] == ["accepted"]
    assert [t["id"] for t in body["tasks"]] == [accepted.pk]
    assert body["tasks"][0]["shapes"] == [BOX]
    assert body["tasks"][0]["image_sha256"] == accepted.asset.sha256
    assert body["counts"] == {"tasks": 1, "shapes": 1, "by_label": {"car": 1}}
    assert body["policy"]["review_required"] is True
    assert json.loads(signed)["sha256"] == created.json()["sha256"]
    assert AuditEvent.objects.filter(action="snapshot.created").count() == 1
    assert AuditEvent.objects.filter(action="snapshot.downloaded").count() == 1


def test_without_required_review_submitted_work_enters_and_parents_chain(world: World) -> None:
    world.project.sensitivity = Sensitivity.STANDARD
    world.project.review_required = False
    world.project.save()
    _tasks(world)
    owner = api_for(world.users["owner"])
    first = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "a"}).json()
    second = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "b"}).json()

    assert first["tasks"] == 2
    assert second["parent"] == first["id"]
    manifest = json.loads(_signed(owner, second["id"]))["manifest"]
    assert manifest["parent"] == {"id": first["id"], "sha256": first["sha256"]}
    again = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "a"})
    assert again.status_code == 409
    listed = owner.get(f"/projects/{world.project.pk}/snapshots").json()["items"]
    assert [s["name"] for s in listed] == ["b", "a"]


def test_one_changed_byte_or_another_key_fails_verification(world: World,
                                                          tmp_path: Path) -> None:
    _tasks(world)
    owner = api_for(world.users["owner"])
    snapshot = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "r"}).json()
    signed = _signed(owner, snapshot["id"])
    path = tmp_path / "snapshot.json"
    path.write_bytes(signed)
    assert CliRunner().invoke(main, ["snapshot", "verify", str(path)]).exit_code == 0

    at = signed.index(b'"x":1')
    tampered = signed[:at] + b'"x":7' + signed[at + 5:]
    path.write_bytes(tampered)
    result = CliRunner().invoke(main, ["snapshot", "verify", str(path)])
    assert result.exit_code == 1
    assert "it was changed" in result.output

    envelope = json.loads(signed)
    envelope["sha256"] = __import__("hashlib").sha256(
        json.dumps(envelope["manifest"] | {"name": "forged"}, sort_keys=True,
                   separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    envelope["manifest"]["name"] = "forged"
    assert verify(json.dumps(envelope).encode())[1] == (
        "the signature does not match the manifest and the public key")
    # Re-signed by someone else's key (put inside the file): only the pinned key tells.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    forger = Ed25519PrivateKey.generate()
    forged = json.loads(signed)
    forged["manifest"]["name"] = "forged"
    forged["sha256"] = __import__("hashlib").sha256(canonical(forged["manifest"])).hexdigest()
    forged["signature"] = base64.b64encode(forger.sign(bytes.fromhex(forged["sha256"]))).decode()
    forged["public_key"] = base64.b64encode(forger.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)).decode()
    instance_key = api_for(None).get("/instance/public-key").json()["public_key"]
    assert verify(canonical(forged), instance_key) == (
        False, "signed by another key than the one given")
    assert "compare it with the instance's" in verify(canonical(forged))[1]


def test_snapshot_rows_cannot_change(world: World) -> None:
    _tasks(world)
    snapshot_id = api_for(world.users["owner"]).post(
        f"/projects/{world.project.pk}/snapshots", {"name": "r"}).json()["id"]
    for change in (lambda: Snapshot.objects.filter(pk=snapshot_id).update(name="other"),
                   lambda: Snapshot.objects.filter(pk=snapshot_id).delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    assert Snapshot.objects.get(pk=snapshot_id).name == "r"


def test_the_diff_says_what_changed_who_changed_it_and_the_label_counts(world: World) -> None:
    from labelop.annotations.services import annotation_save
    from labelop.annotations.shapes import BBox

    world.project.sensitivity = Sensitivity.STANDARD
    world.project.review_required = False
    world.project.save()
    _, edited, _ = _tasks(world)
    owner = api_for(world.users["owner"])
    p = world.project.pk
    first = owner.post(f"/projects/{p}/snapshots", {"name": "v1"}).json()
    # The owner corrects the submitted task: the box moves, and a second car is added.
    plate = {"plate": "AB-123-CD"}
    annotation_save(actor=world.actor("owner"), task_id=edited.pk, if_match=0, shapes=[
        BBox(type="bbox", id="b1", label="car", x=5, y=2, w=30, h=20, attributes=plate),
        BBox(type="bbox", id="c2", label="car", x=50, y=50, w=10, h=20, attributes=plate)])
    Task.objects.filter(pk=edited.pk).update(state=TaskState.SUBMITTED)
    second = owner.post(f"/projects/{p}/snapshots", {"name": "v2"}).json()

    report = owner.get(f"/snapshots/{first['id']}/diff/{second['id']}").json()

    assert report["tasks"] == {"added": 0, "removed": 0, "changed": 1}
    assert (report["added"], report["removed"]) == ([], [])
    [change] = report["changed"]
    assert change["task"] == edited.pk
    assert change["shapes"]["moved"] == [{"id": "b1", "label": "car"}]
    assert change["shapes"]["added"] == [{"id": "c2", "label": "car"}]
    assert change["history"][0]["saved_by"] == "owner"
    assert report["labels"] == {"car": {"before": 2, "after": 3}}
    markdown = owner.get(f"/snapshots/{first['id']}/diff/{second['id']}?format=markdown")
    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert "# Release report: v1 → v2" in text
    assert f"Task {edited.pk}" in text
    assert "| car | 2 | 3 |" in text
    from labelop.releases.diff import as_markdown  # names people typed stay text

    forged = as_markdown({**report, "from": {**report["from"], "name": "v1\n# [click](http://x)"},
                          "labels": {"a|b": {"before": 0, "after": 1}}})
    assert "\n# [click]" not in forged
    assert "\\[click\\]\\(http://x\\)" in forged
    assert "| a\\|b | 0 | 1 |" in forged


@pytest.mark.django_db(transaction=True)
def test_a_large_project_is_snapshot_in_the_background_and_sealed_once(
        world: World, settings) -> None:
    settings.LABELOP_SNAPSHOT_INLINE_TASKS = 0
    from tests.conftest import run_jobs

    accepted, _, _ = _tasks(world)
    owner = api_for(world.users["owner"])
    p = world.project.pk

    started = owner.post(f"/projects/{p}/snapshots", {"name": "big"})
    assert started.status_code == 202, started.content
    pending = started.json()
    assert (pending["status"], pending["tasks"], pending["sha256"]) == ("pending", 0, "")
    assert pending["job"] is not None
    busy = owner.post(f"/projects/{p}/snapshots", {"name": "another"})
    assert busy.status_code == 409
    assert busy.json()["code"] == "snapshot_in_progress"
    assert owner.get(f"/snapshots/{pending['id']}/manifest").json()["code"] == (
        "snapshot_not_ready")
    assert not AuditEvent.objects.filter(action="snapshot.created").exists()

    run_jobs()

    sealed = owner.get(f"/snapshots/{pending['id']}").json()
    assert (sealed["status"], sealed["tasks"], sealed["shapes"]) == ("sealed", 1, 1)
    assert owner.get(f"/jobs/{pending['job']}").json()["status"] == "succeeded"
    key = api_for(None).get("/instance/public-key").json()["public_key"]
    signed = _signed(owner, pending["id"])
    assert verify(signed, key)[0] is True
    assert json.loads(signed)["sha256"] == sealed["sha256"]
    assert json.loads(signed)["manifest"]["tasks"][0]["id"] == accepted.pk
    [event] = AuditEvent.objects.filter(action="snapshot.created")
    assert (event.actor_name, json.loads(event.details)["sha256"]) == ("owner", sealed["sha256"])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Snapshot.objects.filter(pk=pending["id"]).update(status="pending")


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_whose_job_died_frees_its_name(world: World, settings) -> None:
    from labelop.jobs.models import Job, JobStatus

    settings.LABELOP_SNAPSHOT_INLINE_TASKS = 0
    _tasks(world)
    owner = api_for(world.users["owner"])
    p = world.project.pk
    pending = owner.post(f"/projects/{p}/snapshots", {"name": "big"}).json()
    # Its worker was killed while writing: running, and silent for 20 minutes.
    Job.objects.filter(pk=pending["job"]).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=20))

    again = owner.post(f"/projects/{p}/snapshots", {"name": "big"})

    assert again.status_code == 202, again.content
    assert Snapshot.objects.get(pk=pending["id"]).status == "failed"
    assert Job.objects.get(pk=pending["job"]).error["code"] == "job_stopped"
    failed = AuditEvent.objects.get(action="snapshot.failed")
    assert json.loads(failed.details)["reason"] == "its writer stopped without finishing"
    assert AuditEvent.objects.filter(action="snapshot.requested").count() == 2
    busy = Job.objects.get(pk=again.json()["job"])
    Job.objects.filter(pk=busy.pk).update(status=JobStatus.RUNNING,
                                          heartbeat_at=timezone.now())
    assert owner.post(f"/projects/{p}/snapshots", {"name": "x"}).status_code == 409
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Snapshot.objects.filter(pk=pending["id"]).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Snapshot.objects.filter(pk=again.json()["id"]).delete()  # pending rows stay too
    for change in ({"name": "renamed", "status": "sealed"}, {"status": "pending"}):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            Snapshot.objects.filter(pk=again.json()["id"]).update(**change)


def test_added_and_removed_tasks_name_who_moved_them(world: World) -> None:
    from labelop.review.models import Decision
    from labelop.review.services import review

    world.project.labels = LABELS
    world.project.save()
    first_task, second_task = make_tasks(world.project, 2, created_by=world.users["owner"])
    for task in (first_task, second_task):
        Task.objects.filter(pk=task.pk).update(state=TaskState.SUBMITTED,
                                               assignee=world.users["annotator"])
        Annotation.objects.create(task=task, shapes=[BOX])
    owner = api_for(world.users["owner"])
    p = world.project.pk
    reviewer = world.actor("reviewer")
    review(actor=reviewer, task_id=first_task.pk, decision=Decision.ACCEPT)
    v1 = owner.post(f"/projects/{p}/snapshots", {"name": "v1"}).json()
    review(actor=reviewer, task_id=second_task.pk, decision=Decision.ACCEPT)
    v2 = owner.post(f"/projects/{p}/snapshots", {"name": "v2"}).json()

    forward = owner.get(f"/snapshots/{v1['id']}/diff/{v2['id']}").json()
    backward = owner.get(f"/snapshots/{v2['id']}/diff/{v1['id']}").json()

    [added] = forward["added"]
    assert added["task"] == second_task.pk
    assert added["shapes"] == 1
    assert [h.get("reviewed_by") for h in added["history"]] == ["reviewer"]
    assert [r["task"] for r in backward["removed"]] == [second_task.pk]
    assert forward["labels"] == {"car": {"before": 1, "after": 2}}


def test_the_console_snapshots_lists_diffs_and_exports_with_an_audit_trail(
        world: World, tmp_path: Path) -> None:
    import zipfile

    _tasks(world)
    p = str(world.project.pk)

    first = CliRunner().invoke(main, ["snapshot", "create", p, "v1"])
    assert first.exit_code == 0, first.output
    Task.objects.filter(project=world.project, state=TaskState.SUBMITTED).update(
        state=TaskState.ACCEPTED)
    second = CliRunner().invoke(main, ["snapshot", "create", p, "v2"])
    again = CliRunner().invoke(main, ["snapshot", "create", p, "v2"])
    listed = CliRunner().invoke(main, ["snapshot", "list", p])
    v1, v2 = (Snapshot.objects.get(name=n) for n in ("v1", "v2"))
    report = CliRunner().invoke(main, ["snapshot", "diff", str(v1.pk), str(v2.pk)])
    out = tmp_path / "export.zip"
    exported = CliRunner().invoke(main, ["snapshot", "export", str(v2.pk), "--format", "coco",
                                         "--output", str(out)])
    originals = CliRunner().invoke(main, ["snapshot", "export", str(v2.pk), "--format", "coco",
                                          "--images", "original", "--output", str(out)])

    assert second.exit_code == 0, second.output
    assert f"sha256 {v2.sha256}" in second.output
    assert (v1.tasks, v2.tasks, v2.parent_id) == (1, 2, v1.pk)
    assert again.exit_code == 1
    assert "already" in again.output
    assert listed.output.index("v2") < listed.output.index("v1")
    assert report.exit_code == 0, report.output
    assert "Tasks added: 1, removed: 0, changed: 0" in report.output
    assert exported.exit_code == 0, exported.output
    assert zipfile.ZipFile(out).read("annotations/instances_default.json")
    assert originals.exit_code == 1  # restricted: originals only by an owner's exception
    assert "exception" in originals.output
    path = tmp_path / "v2.json"
    path.write_bytes(b"".join(signed_file(v2)))
    assert CliRunner().invoke(main, ["snapshot", "verify", str(path)]).exit_code == 0
    console = AuditEvent.objects.filter(actor_name="", action__in=[
        "snapshot.created", "snapshot.diffed", "export.started", "export.downloaded",
        "export.refused"]).values_list("action", flat=True)
    assert sorted(console) == ["export.downloaded", "export.refused", "export.started",
                               "snapshot.created", "snapshot.created", "snapshot.diffed"]


@pytest.mark.parametrize("name", ["", "   ", "two\nlines", "x" * 101])
def test_a_snapshot_name_is_printable_and_short(world: World, name: str) -> None:
    from labelop.core.errors import Invalid
    from labelop.releases.services import snapshot_create

    with pytest.raises(Invalid, match="printable"):
        snapshot_create(actor=world.actor("owner"), project=world.project, name=name)
    assert not Snapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_background_snapshot_of_someone_no_longer_owner_is_not_taken(
        world: World, settings) -> None:
    from labelop.projects.models import Membership
    from tests.conftest import run_jobs

    settings.LABELOP_SNAPSHOT_INLINE_TASKS = 0
    _tasks(world)
    pending = api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/snapshots",
                                                 {"name": "big"}).json()
    Membership.objects.filter(user=world.users["owner"]).update(role="reviewer")

    run_jobs()

    assert Snapshot.objects.get(pk=pending["id"]).status == "failed"
    assert not AuditEvent.objects.filter(action="snapshot.created").exists()
    assert AuditEvent.objects.filter(action="snapshot.failed").count() == 1
