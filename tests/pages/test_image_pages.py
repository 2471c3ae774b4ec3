from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labelop.annotations.models import Task
from labelop.assets.models import Asset
from labelop.storage.models import StorageLocation
from tests import images
from tests.conftest import World
from tests.pages.test_pages import _signed_in

pytestmark = pytest.mark.usefixtures("data_dir")


def test_owner_uploads_on_the_project_page_and_sees_thumbnails(world: World) -> None:
    owner = _signed_in("owner")
    base = f"/projects/{world.project.pk}"

    page = owner.post(f"{base}/images", {"files": [
        SimpleUploadedFile("a.jpg", images.jpeg(seed=1)),
        SimpleUploadedFile("evil.svg", b"<svg onload='alert(1)'/>")]}, follow=True)

    html = page.content.decode()
    assert "1 images added" in html
    assert "evil.svg was refused" in html
    asset = Asset.objects.get()
    assert f'/api/v1/images/{asset.pk}/thumbnail' in html
    assert owner.get(f"/api/v1/images/{asset.pk}/thumbnail").status_code == 200
    assert "new images go here" in html


def test_annotators_see_only_their_own_images(world: World) -> None:
    owner = _signed_in("owner")
    owner.post(f"/projects/{world.project.pk}/images", {"files": [
        SimpleUploadedFile("mine.jpg", images.jpeg(seed=1)),
        SimpleUploadedFile("theirs.jpg", images.jpeg(seed=2))]})
    Task.objects.filter(asset__original_name="mine.jpg").update(
        assignee=world.users["annotator"])

    html = _signed_in("annotator").get(f"/projects/{world.project.pk}").content.decode()

    assert "mine.jpg" in html
    assert "theirs.jpg" not in html
    assert "Upload" not in html
    assert "<h2>Storage</h2>" not in html


def test_site_admin_adds_and_tests_a_location_on_the_storage_page(world: World,
                                                                  tmp_path: Path) -> None:
    assert _signed_in("owner").get("/storage").status_code == 403
    admin = _signed_in("site_admin")

    page = admin.post("/storage", {"name": "scans", "kind": "local",
                                   "path": str(tmp_path / "scans"), "encryption": "server"},
                      follow=True)

    assert "scans works" in page.content.decode()
    location = StorageLocation.objects.get(name="scans")
    checked = admin.post(f"/storage/{location.pk}/check", follow=True)
    assert "scans works: a test object" in checked.content.decode()
    refused = admin.post("/storage", {"name": "bad", "kind": "local", "path": "relative/dir",
                                      "encryption": "server"}, follow=True)
    assert "absolute directory path" in refused.content.decode()


def test_owner_changes_the_storage_within_the_profile(world: World, tmp_path: Path) -> None:
    from labelop.storage.services import location_create

    location_create(actor=None, name="plain", kind="local", params={"path": str(tmp_path / "p")},
                    encryption="none")
    owner = _signed_in("owner")

    refused = owner.post(f"/projects/{world.project.pk}/storage", {"location": "plain"},
                         follow=True)

    assert "needs storage encrypted at rest" in refused.content.decode()
    assert world.project.storage_location is None
