"""Objects no row names (left by a process killed between storing and recording) are found
and, when asked, deleted and audited; named ones, young ones, a queued label import's file
and whatever is not LabelOp's own (outside p<project>/) are never touched."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from django.core.files.uploadedfile import SimpleUploadedFile

from labelop.assets.models import Asset
from labelop.assets.services import project_location
from labelop.audit.models import AuditEvent
from labelop.cli import main
from labelop.permissions import Actor
from labelop.releases.imports import label_import_start
from labelop.storage import services
from labelop.storage.models import Encryption
from labelop.storage.sweep import storage_sweep, unnamed
from tests import images
from tests.conftest import World, api_for

pytestmark = pytest.mark.usefixtures("data_dir")


def _uploaded(world: World) -> Asset:
    owner = api_for(world.users["owner"])
    answer = owner.client.post(f"/api/v1/projects/{world.project.pk}/images", {"files": [
        SimpleUploadedFile("a.jpg", images.jpeg(seed=7))]}, headers=owner.headers)
    assert answer.status_code == 200, answer.content
    return Asset.objects.get(pk=answer.json()["created"][0]["asset"])


def _age(location, key: str, hours: float) -> None:
    path = services.backend_for(location).root / key  # type: ignore[attr-defined]
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_only_old_objects_no_row_names_are_swept(world: World) -> None:
    asset = _uploaded(world)
    location = project_location(world.project)
    for key in ("p9/left-by-a-killed-upload", "p9/still-committing",
                "scans/the-customers-own.jpg"):  # a location that is an import source too
        services.object_put(location, key, [b"ciphertext"])
    queued = label_import_start(actor=Actor(user=world.users["owner"], second_factor=True),
                                project=world.project, upload=iter([b"{}"]), name="l.json",
                                format="coco", dry_run=True)
    for key in (asset.object_key, "p9/left-by-a-killed-upload", queued.params["key"],
                "scans/the-customers-own.jpg"):
        _age(location, key, hours=2)

    assert list(unnamed(location)) == ["p9/left-by-a-killed-upload"]
    listed = storage_sweep(actor=None, location=location, delete=False)
    assert listed == ["p9/left-by-a-killed-upload"]
    assert not AuditEvent.objects.filter(action="storage.swept").exists()

    assert storage_sweep(actor=None, location=location, delete=True) == listed

    backend = services.backend_for(location)
    assert not backend.exists("p9/left-by-a-killed-upload")
    assert backend.exists("scans/the-customers-own.jpg")
    assert backend.exists("p9/still-committing")
    assert backend.exists(queued.params["key"])
    owner = api_for(world.users["owner"])
    assert owner.get(f"/images/{asset.pk}/content").status_code == 200
    event = AuditEvent.objects.get(action="storage.swept")
    assert json.loads(event.details) == {"deleted": 1, "older_than_s": 3600}
    assert list(unnamed(location)) == []


def test_the_sweep_reads_an_s3_bucket_too(db, bucket: dict) -> None:
    location = services.location_create(actor=None, name="bucket", kind="s3", params=bucket,
                                        encryption=Encryption.SERVER)
    services.object_put(location, "p1/orphan", [b"x"])
    services.object_put(location, "incoming/customer.jpg", [b"x"])  # not LabelOp's

    # No grace: everything written up to now counts.
    assert list(unnamed(location, older_than=timedelta(seconds=-60))) == ["p1/orphan"]
    assert list(unnamed(location)) == []  # written a moment ago: left alone


def test_the_command_lists_then_deletes(world: World) -> None:
    location = project_location(world.project)
    services.object_put(location, "p9/orphan", [b"x"])
    _age(location, "p9/orphan", hours=2)
    runner = CliRunner()

    listed = runner.invoke(main, ["storage", "sweep"])
    assert listed.exit_code == 0, listed.output
    assert f"{location.name}: p9/orphan" in listed.output
    assert services.backend_for(location).exists("p9/orphan")

    deleted = runner.invoke(main, ["storage", "sweep", "--delete"])
    assert deleted.exit_code == 0, deleted.output
    assert f"{location.name}: 1 unnamed objects deleted" in deleted.output
    assert not services.backend_for(location).exists("p9/orphan")
    assert runner.invoke(main, ["storage", "sweep", "--location", "nowhere"]).exit_code == 1


def test_an_object_written_again_after_the_listing_is_kept(world: World, monkeypatch) -> None:
    """An image uploaded anew between the listing and the deletion was written again (its
    key is content-addressed): its row may be committing, so it stays."""
    from labelop.storage import sweep

    location = project_location(world.project)
    services.object_put(location, "p9/uploaded-again", [b"x"])
    _age(location, "p9/uploaded-again", hours=2)
    listed = list(unnamed(location))
    services.object_put(location, "p9/uploaded-again", [b"x"])  # the new upload
    monkeypatch.setattr(sweep, "unnamed", lambda *a, **k: iter(listed))

    assert storage_sweep(actor=None, location=location, delete=True) == []
    assert services.backend_for(location).exists("p9/uploaded-again")
