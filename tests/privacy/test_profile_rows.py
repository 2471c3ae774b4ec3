"""One test per row of DESIGN.md's "Sensitivity profiles" table, each run for every profile,
each through the HTTP API (what the server enforces, not what a page hides).

The row "exports with original images" is tested with the exports, for every profile:
tests/releases/test_exports.py::test_exports_with_original_images."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelop.annotations.models import Task, TaskState
from labelop.audit.models import AuditEvent
from labelop.projects.models import Sensitivity
from labelop.storage import services as storage
from labelop.storage.models import Encryption
from tests.conftest import World, api_for, run_jobs, session_api
from tests.labeling import make_tasks
from tests.model_server import ModelServer

PROFILES = list(Sensitivity)
STRICT = {Sensitivity.RESTRICTED, Sensitivity.LOCAL_ONLY}
pytestmark = pytest.mark.parametrize("profile", PROFILES)


def _as(world: World, profile: Sensitivity) -> World:
    world.project.sensitivity = profile
    world.project.save()
    return world


def test_annotators_see_only_assigned_tasks(image_world: World, profile: Sensitivity) -> None:
    world = _as(image_world, profile)
    other = make_tasks(world.project, 1, created_by=world.users["owner"])[0]
    annotator = api_for(world.users["annotator"])

    assert annotator.get(f"/tasks/{world.asset.task.pk}").status_code == 200
    assert annotator.get(f"/tasks/{other.pk}").status_code == 404
    listed = annotator.get(f"/projects/{world.project.pk}/tasks").json()["items"]
    assert [t["id"] for t in listed] == [world.asset.task.pk]


def test_image_views_are_audited(image_world: World, profile: Sensitivity) -> None:
    world = _as(image_world, profile)
    response = api_for(world.users["owner"]).get(f"/images/{world.asset.pk}/content")

    assert response.status_code == 200
    b"".join(response.streaming_content)
    assert AuditEvent.objects.filter(action="image.viewed", target=f"asset:{world.asset.pk}",
                                     actor_name="owner").exists()


def test_review_before_a_snapshot(world: World, profile: Sensitivity) -> None:
    _as(world, profile)
    response = api_for(world.users["owner"]).call(
        "PUT", f"/projects/{world.project.pk}/review-settings", {"review_required": False})

    if profile in STRICT:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "review_required_by_profile"
    else:
        assert response.status_code == 200, response.content
        assert response.json()["review_required"] is False


def test_second_factor_for_members(image_world: World, profile: Sensitivity) -> None:
    world = _as(image_world, profile)
    response = api_for(world.users["annotator"], second_factor=False).get(
        f"/tasks/{world.asset.task.pk}")

    assert response.status_code == (403 if profile in STRICT else 200)
    if profile in STRICT:
        assert response.json()["code"] == "two_factor_required"


def test_operating_note_before_active(world: World, profile: Sensitivity, data_dir) -> None:
    _as(world, profile)
    readiness = api_for(world.users["owner"]).get(
        f"/projects/{world.project.pk}/readiness").json()["checks"]
    note = next(c for c in readiness if c["name"] == "operating_note")

    assert note["status"] == ("fail" if profile in STRICT else "warn")
    activated = api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/activate")
    if profile in STRICT:
        assert activated.status_code == 409
        assert "There is no operating note yet." in activated.json()["detail"]
    else:
        assert "operating note" not in activated.content.decode()


@pytest.mark.django_db(transaction=True)
def test_external_model_endpoints(image_world: World, profile: Sensitivity,
                                  model_server: ModelServer) -> None:
    world = _as(image_world, profile)
    registered = api_for(world.users["site_admin"]).post("/models/external", {
        "name": "cloud", "url": model_server.url, "allow_private_network": True})
    assert registered.status_code == 201

    response = api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/inference",
                                                  {"model": "cloud"})
    run_jobs()

    if profile in STRICT:
        assert response.status_code == 403
        assert response.json()["code"] == "external_model_forbidden"
        assert model_server.received == []
    else:
        assert response.status_code == 202
        assert len(model_server.received) == 1


def test_storage(world: World, profile: Sensitivity, data_dir, tmp_path: Path,
                 bucket: dict) -> None:
    _as(world, profile)
    for name, encryption in (("disk-plain", Encryption.NONE), ("disk-sealed", Encryption.SERVER)):
        storage.location_create(actor=None, name=name, kind="local", encryption=encryption,
                                params={"path": str(tmp_path / name)})
    storage.location_create(actor=None, name="bucket-sealed", kind="s3", params=bucket,
                            encryption=Encryption.SERVER)
    allowed = {
        Sensitivity.STANDARD: {"disk-plain", "disk-sealed", "bucket-sealed"},
        Sensitivity.RESTRICTED: {"disk-sealed", "bucket-sealed"},  # encrypted at rest
        Sensitivity.LOCAL_ONLY: {"disk-sealed"},  # the bucket's key is not the customer's
    }[profile]
    owner = api_for(world.users["owner"])

    for name in ("disk-plain", "disk-sealed", "bucket-sealed"):
        response = owner.call("PUT", f"/projects/{world.project.pk}/storage", {"location": name})
        if name in allowed:
            assert response.status_code == 200, (name, response.content)
        else:
            assert response.status_code == 422, (name, response.content)
            assert response.json()["code"] == "storage_not_allowed"


def test_raw_download_outside_the_editor(image_world: World, profile: Sensitivity) -> None:
    world = _as(image_world, profile)
    path = f"/images/{world.asset.pk}/content"
    Task.objects.filter(pk=world.asset.task.pk).update(state=TaskState.ASSIGNED)

    by_token = api_for(world.users["annotator"]).get(path)
    in_address_bar = session_api(world.users["annotator"]).get(path, **{
        "Sec-Fetch-Dest": "document"})
    in_the_editor = session_api(world.users["annotator"]).get(path, **{
        "Sec-Fetch-Dest": "image"})

    for refused in (by_token, in_address_bar):
        assert refused.status_code == (403 if profile in STRICT else 200)
        if profile in STRICT:
            assert refused.json()["code"] == "raw_download_forbidden"
    assert AuditEvent.objects.filter(action="image.download_refused").count() == (
        2 if profile in STRICT else 0)
    assert in_the_editor.status_code == 200
    assert api_for(world.users["owner"]).get(path).status_code == 200  # owners: always
