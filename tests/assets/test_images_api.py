"""Upload, serve and report through the API, with a real disk and real encryption."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labelop.annotations.models import Task
from labelop.assets.models import Asset
from labelop.audit.models import AuditEvent
from tests import images
from tests.conftest import World, api_for, session_api

pytestmark = pytest.mark.usefixtures("data_dir")


def _upload(client, project_id: int, *files: tuple[str, bytes]):
    uploads = [SimpleUploadedFile(name, data, content_type="application/octet-stream")
               for name, data in files]
    return client.client.post(f"/api/v1/projects/{project_id}/images", {"files": uploads},
                              headers=client.headers)


def _stream(response) -> bytes:
    return b"".join(response.streaming_content)


def test_one_bad_file_never_sinks_the_good_ones(world: World) -> None:
    owner = api_for(world.users["owner"])

    response = _upload(owner, world.project.pk,
                       ("scan one.jpg", images.jpeg(seed=1)), ("notes.html", b"<html>hi</html>"),
                       ("../../etc/scan two.png", images.png(seed=2)), ("empty.png", b""),
                       ("bomb.png", images.png_with_dimensions(50_000, 50_000)),
                       ("again.jpg", images.jpeg(seed=1)))

    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["created"]] == ["scan one.jpg", "scan two.png"]
    assert [d["name"] for d in body["duplicates"]] == ["again.jpg"]
    assert body["duplicates"][0]["asset"] == body["created"][0]["asset"]
    assert {r["name"]: r["error"]["code"] for r in body["rejected"]} == {
        "notes.html": "unsupported_format", "empty.png": "empty_file",
        "bomb.png": "too_many_pixels"}
    assert Task.objects.filter(project=world.project).count() == 2
    assert AuditEvent.objects.filter(action="image.imported").count() == 2


def test_served_bytes_are_stripped_and_the_files_on_disk_are_ciphertext(
        world: World, data_dir: Path) -> None:
    owner = api_for(world.users["owner"])
    original = images.jpeg(seed=4, size=(200, 150))
    asset_id = _upload(owner, world.project.pk, ("x.jpg", original)).json()["created"][0]["asset"]

    response = owner.get(f"/images/{asset_id}/content")
    served = _stream(response)

    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert images.pixels(served) == images.pixels(original)
    for secret in (b"SecretCam", b"Jane Patient", b"GPS", b"Exif", b"patient 4711"):
        assert secret not in served
    on_disk = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert served[200:264] not in on_disk  # only ciphertext was written
    for secret in (b"SecretCam", b"Jane Patient"):
        assert secret not in on_disk
    event = AuditEvent.objects.filter(action="image.viewed").get()
    assert (event.actor_name, event.target) == ("owner", f"asset:{asset_id}")


def test_thumbnail_is_a_small_jpeg(world: World) -> None:
    owner = api_for(world.users["owner"])
    asset_id = _upload(owner, world.project.pk,
                       ("x.png", images.png16())).json()["created"][0]["asset"]

    response = owner.get(f"/images/{asset_id}/thumbnail")

    assert response["Content-Type"] == "image/jpeg"
    mode, size, _ = images.pixels(_stream(response))
    assert mode == "L"
    assert max(size) <= 256
    assert AuditEvent.objects.get(action="image.viewed").details == '{"kind":"thumbnail"}'


@pytest.mark.parametrize("who", ["annotator", "outsider", "site_admin"])
@pytest.mark.parametrize("kind", ["content", "thumbnail"])
def test_people_without_the_task_get_404(world: World, who: str, kind: str) -> None:
    owner = api_for(world.users["owner"])
    asset_id = _upload(owner, world.project.pk, ("x.jpg", images.jpeg())).json()["created"][0][
        "asset"]
    before = AuditEvent.objects.count()

    response = api_for(world.users[who]).get(f"/images/{asset_id}/{kind}")

    assert response.status_code == 404
    assert AuditEvent.objects.count() == before + 1  # only the token creation


def test_an_assigned_annotator_and_a_reviewer_see_the_image(world: World) -> None:
    owner = api_for(world.users["owner"])
    asset_id = _upload(owner, world.project.pk, ("x.jpg", images.jpeg())).json()["created"][0][
        "asset"]
    Task.objects.filter(asset_id=asset_id).update(assignee=world.users["annotator"])

    for who in ("annotator", "reviewer"):  # in the editor (a session drawing it into a page)
        assert session_api(world.users[who]).get(
            f"/images/{asset_id}/content", **{"Sec-Fetch-Dest": "image"}).status_code == 200
    assert session_api(world.users["target"]).get(
        f"/images/{asset_id}/content", **{"Sec-Fetch-Dest": "image"}).status_code == 404


def test_only_owners_upload(world: World) -> None:
    response = _upload(api_for(world.users["reviewer"]), world.project.pk, ("x.jpg",
                                                                             images.jpeg()))
    assert response.status_code == 403
    assert not Asset.objects.exists()


def test_storage_report_says_where_and_who_holds_the_key(world: World, data_dir: Path) -> None:
    owner = api_for(world.users["owner"])
    _upload(owner, world.project.pk, ("a.jpg", images.jpeg(seed=1)), ("b.jpg", images.jpeg(seed=2)))

    report = owner.get(f"/projects/{world.project.pk}/storage").json()

    row = report["locations"][0]
    assert report["current"] == "local"
    assert row["where"] == f"the directory {data_dir / 'objects'} on this server"
    assert row["key_holder"].startswith("this LabelOp instance")
    assert (row["images"], row["objects"], row["encryption"]) == (2, 2, "server")
    assert row["bytes"] == sum(a.size + a.thumbnail_size for a in Asset.objects.all())
    assert api_for(world.users["reviewer"]).get(
        f"/projects/{world.project.pk}/storage").status_code == 403


def test_profile_refuses_storage_it_does_not_allow(world: World, tmp_path: Path) -> None:
    from labelop.storage.models import Encryption
    from labelop.storage.services import location_create

    location_create(actor=None, name="plain", kind="local",
                    params={"path": str(tmp_path / "plain")}, encryption=Encryption.NONE)
    owner = api_for(world.users["owner"])

    response = owner.call("PUT", f"/projects/{world.project.pk}/storage", {"location": "plain"})

    assert response.status_code == 422
    assert response.json()["code"] == "storage_not_allowed"
    standard = owner.call("PUT", f"/projects/{world.other_project.pk}/storage",
                          {"location": "plain"})
    assert standard.status_code == 404  # owner of "Scans" only; other_project is hidden


def test_an_upload_over_the_request_limit_is_413(world: World, settings) -> None:
    from django.test import RequestFactory

    from labelop.core.middleware import RequestSizeMiddleware

    settings.LABELOP_MAX_REQUEST_BYTES = 1024 * 1024
    request = RequestFactory().post("/api/v1/projects/1/images", data=b"x" * 10,
                                    content_type="application/octet-stream",
                                    CONTENT_LENGTH=str(2 * 1024 * 1024))

    response = RequestSizeMiddleware(lambda r: None)(request)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


def test_a_file_over_the_per_file_limit_is_refused_alone(world: World, settings) -> None:
    settings.LABELOP_MAX_UPLOAD_BYTES = 4096
    owner = api_for(world.users["owner"])

    body = _upload(owner, world.project.pk, ("big.jpg", images.jpeg(seed=1, size=(300, 300))),
                   ("small.png", images.png16())).json()

    assert [r["error"]["code"] for r in body["rejected"]] == ["too_large"]
    assert [c["name"] for c in body["created"]] == ["small.png"]
