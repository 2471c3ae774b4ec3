"""Release pages: owners take snapshots and exports from the page; the release report says
what changed and who changed it; people without the role meet a not-found page."""

from __future__ import annotations

import pytest

from labelop.annotations.models import Annotation, Task, TaskState
from labelop.audit.models import AuditEvent
from labelop.jobs.models import Job
from labelop.releases.models import Export, Snapshot
from tests.conftest import World, run_jobs
from tests.labeling import LABELS, make_tasks
from tests.pages.test_pages import _signed_in

BOX = {"id": "b1", "type": "bbox", "label": "car", "x": 1, "y": 2, "w": 30, "h": 20,
       "attributes": {"plate": "X"}}


@pytest.mark.django_db(transaction=True)
def test_an_owner_snapshots_exports_and_reads_the_release_report(world: World,
                                                                 data_dir) -> None:
    world.project.labels = LABELS
    world.project.save()
    first, second = make_tasks(world.project, 2, created_by=world.users["owner"])
    Task.objects.filter(pk=first.pk).update(state=TaskState.ACCEPTED)
    Annotation.objects.create(task=first, shapes=[BOX])
    owner = _signed_in("owner")
    page = f"/projects/{world.project.pk}/releases"

    assert owner.post(page, {"name": "v1"}).status_code == 302
    Task.objects.filter(pk=second.pk).update(state=TaskState.ACCEPTED)
    Annotation.objects.create(task=second, shapes=[BOX])
    owner.post(page, {"name": "v2"})
    v1, v2 = Snapshot.objects.get(name="v1"), Snapshot.objects.get(name="v2")
    assert owner.post(page, {"export": v2.pk, "format": "coco", "images": "none"}
                      ).status_code == 302
    run_jobs()
    listed = owner.get(page).content.decode()
    report = owner.get(f"{page}?from={v1.pk}&to={v2.pk}", follow=True)

    assert "v1" in listed
    assert f"/snapshots/{v1.pk}/report/{v2.pk}" in listed  # v2's report since its parent
    export = Export.objects.get()
    assert Job.objects.get(pk=export.job_id).status == "succeeded"
    assert f"/api/v1/exports/{export.pk}/download" in listed
    text = report.content.decode()
    assert report.status_code == 200
    assert "Tasks added: 1, removed: 0, changed: 0." in text
    assert f"Task {second.pk} (img-000001.jpg): 1 shape(s), accepted" in text
    assert "| car |" not in text  # a page, not the Markdown download
    assert "?format=markdown" in text
    assert AuditEvent.objects.filter(action="snapshot.diffed").count() == 1


def test_the_release_pages_follow_the_roles(world: World, data_dir) -> None:
    from labelop.releases.services import snapshot_create

    snapshot = snapshot_create(actor=world.actor("owner"), project=world.project, name="v1")
    page = f"/projects/{world.project.pk}/releases"
    reviewer = _signed_in("reviewer").get(page)
    annotator = _signed_in("annotator")

    assert reviewer.status_code == 200
    assert b"Take a snapshot" not in reviewer.content
    assert b"Export as" not in reviewer.content
    assert annotator.get(page).status_code == 403  # a member, without the role
    report = f"/snapshots/{snapshot.pk}/report/{snapshot.pk}"
    assert annotator.get(report).status_code == 403
    assert _signed_in("outsider").get(page).status_code == 404
    assert _signed_in("outsider").get(report).status_code == 404
    refused = _signed_in("reviewer").post(page, {"name": "mine"})
    assert refused.status_code == 302
    assert not Snapshot.objects.filter(name="mine").exists()
