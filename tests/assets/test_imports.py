"""Folder and bucket imports: only inside the import roots, as jobs, safe to re-run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from labelop.assets.models import Asset
from labelop.assets.services import IMPORT_BATCH
from labelop.jobs.models import Job
from labelop.storage.models import Encryption
from labelop.storage.services import location_create
from tests import images
from tests.conftest import World, api_for, run_jobs

pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture
def roots(settings, tmp_path: Path) -> Path:
    root = tmp_path / "imports"
    (root / "batch" / "sub").mkdir(parents=True)
    (root / "batch" / "a.jpg").write_bytes(images.jpeg(seed=1))
    (root / "batch" / "sub" / "b.png").write_bytes(images.png(seed=2))
    (root / "batch" / "readme.txt").write_text("not an image")
    settings.LABELOP_IMPORT_ROOTS = (root.resolve(),)
    return root


@pytest.mark.django_db(transaction=True)
def test_folder_import_runs_as_a_job_with_progress(roots: Path, django_user_model) -> None:
    world = _world()
    owner = api_for(world.users["owner"])

    started = owner.post(f"/projects/{world.project.pk}/imports",
                         {"folder": str(roots / "batch")})
    run_jobs()
    job = owner.get(f"/jobs/{started.json()['job']}").json()

    assert started.status_code == 202
    assert (job["status"], job["progress"], job["kind"]) == ("succeeded", 1.0, "import")
    assert job["result"]["created"] == 2
    assert [r["name"] for r in job["result"]["rejected"]] == ["readme.txt"]
    assert sorted(Asset.objects.values_list("original_name", flat=True)) == ["a.jpg", "b.png"]
    assert api_for(world.users["reviewer"]).get(f"/jobs/{job['id']}").status_code == 403


def _world() -> World:
    from tests.conftest import build_world

    return build_world()


@pytest.mark.parametrize("folder", ["{root}/../", "{root}/batch/../..", "/etc", "{root}/nope"])
def test_folders_outside_the_roots_are_refused(world: World, roots: Path, folder: str) -> None:
    response = api_for(world.users["owner"]).post(
        f"/projects/{world.project.pk}/imports", {"folder": folder.format(root=roots)})

    assert response.status_code == 422
    assert response.json()["code"] in ("import_folder_refused", "import_folder_missing")
    assert str(roots.parent) not in response.json()["detail"]
    assert not Job.objects.exists()


def test_a_symlinked_folder_escaping_the_roots_is_refused(world: World, roots: Path,
                                                         tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (roots / "escape").symlink_to(outside)

    response = api_for(world.users["owner"]).post(
        f"/projects/{world.project.pk}/imports", {"folder": str(roots / "escape")})

    assert response.status_code == 422


def test_symlinked_files_escaping_the_roots_are_skipped_by_the_job(world: World, roots: Path,
                                                                  tmp_path: Path) -> None:
    from labelop.assets.services import folder_files

    secret = tmp_path / "outside.jpg"
    secret.write_bytes(images.jpeg(seed=7))
    (roots / "batch" / "link.jpg").symlink_to(secret)

    files = dict(folder_files((roots / "batch").resolve()))

    assert files["link.jpg"] is None
    assert Path(files["a.jpg"]).read_bytes() == images.jpeg(seed=1)


def test_a_file_swapped_for_a_link_after_the_walk_is_not_followed(tmp_path: Path) -> None:
    from labelop.assets.ingest import prepare_many

    secret = tmp_path / "secret.jpg"
    secret.write_bytes(images.jpeg(seed=5))
    link = tmp_path / "swapped.jpg"
    link.symlink_to(secret)

    [(_, outcome)] = list(prepare_many([("swapped.jpg", str(link))], workers=1))

    assert outcome.code == "unreadable"


def test_bucket_prefix_import(world: World, bucket: dict, django_capture_on_commit_callbacks
                              ) -> None:
    from labelop.assets.services import import_run

    location_create(actor=None, name="incoming", kind="s3", params=bucket,
                    encryption=Encryption.NONE)
    s3 = boto3.client("s3", endpoint_url=bucket["endpoint_url"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.put_object(Bucket=bucket["bucket"], Key="drop/one.jpg", Body=images.jpeg(seed=11))
    s3.put_object(Bucket=bucket["bucket"], Key="drop/two.webp", Body=images.webp(seed=12))
    s3.put_object(Bucket=bucket["bucket"], Key="other/three.jpg", Body=images.jpeg(seed=13))
    owner = api_for(world.users["owner"])

    with django_capture_on_commit_callbacks(execute=False):
        job_id = owner.post(f"/projects/{world.project.pk}/imports",
                            {"location": "incoming", "prefix": "drop/"}).json()["job"]
    result = import_run(Job.objects.get(pk=job_id))

    assert result["created"] == 2
    assert sorted(Asset.objects.values_list("format", flat=True)) == ["JPEG", "WEBP"]
    refused = owner.post(f"/projects/{world.project.pk}/imports",
                         {"location": "incoming", "prefix": "p1/"})
    assert refused.json()["code"] == "import_prefix_refused"


SETUP = """
import django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "labelop.config.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from labelop.projects.models import Project
print(Project.objects.create(name="bulk", sensitivity="restricted").pk)
"""


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir()
            for child in (task / "children").read_text().split()]


def test_kill_9_mid_import_then_rerun_gives_one_task_per_image(tmp_path: Path) -> None:
    """A real `labelop import` process, killed with SIGKILL while it works, then run again."""
    data_dir, folder = tmp_path / "data", tmp_path / "in"
    folder.mkdir()
    count = 3 * IMPORT_BATCH  # recorded a batch per transaction: kill after the first
    for i in range(count):
        (folder / f"img{i:03}.jpg").write_bytes(images.jpeg(seed=100 + i, size=(320, 240)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
    env["LABELOP_DATA_DIR"] = str(data_dir)
    project = subprocess.run([sys.executable, "-c", SETUP], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
    database = data_dir / "labelop.sqlite3"

    def imported() -> int:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT count(*) FROM assets_asset").fetchone()[0]

    run = [sys.executable, "-m", "labelop", "import", project, str(folder)]
    first = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while imported() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = imported()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    subprocess.run(run, env=env, check=True, capture_output=True)

    assert IMPORT_BATCH <= killed_at < count
    with sqlite3.connect(database) as db:
        tasks = db.execute("SELECT count(*) FROM annotations_task").fetchone()[0]
        keys = {row[0] for row in db.execute("SELECT object_key FROM assets_asset")}
    assert (imported(), tasks) == (count, count)
    stored = {str(p.relative_to(data_dir / "objects")) for p in (data_dir / "objects").rglob("*")
              if p.is_file()}
    expected = {f"{k}{suffix}" for k in keys for suffix in ("", ".dek")}
    assert stored == expected  # no orphans, no half-written temporary files


def test_a_batch_records_each_new_image_once_and_names_repeats(world: World) -> None:
    from labelop.assets.ingest import prepare, record_assets, store_objects
    from labelop.assets.services import project_location
    from labelop.audit.models import AuditEvent

    project, owner = world.project, world.users["owner"]
    location = project_location(project)
    a, b = prepare(images.jpeg(seed=71)), prepare(images.png(seed=72))
    for prepared in (a, b):
        store_objects(project, location, prepared)
    record_assets(project=project, location=location, batch=[("b.png", b)],
                  created_by=owner, via="folder")

    results = record_assets(project=project, location=location,
                            batch=[("a.jpg", a), ("b-again.png", b), ("a-again.jpg", a)],
                            created_by=owner, via="folder")

    assert [r.duplicate for r in results] == [False, True, True]
    assert results[0].asset.pk == results[2].asset.pk
    assert Asset.objects.filter(project=project).count() == 2
    assert {t.asset_id for t in Asset.objects.get(sha256=a.sha256).project.tasks.all()} == {
        results[0].asset.pk, results[1].asset.pk}
    events = AuditEvent.objects.filter(action="image.imported", project=project)
    assert sorted(e.target for e in events) == sorted(
        f"asset:{r.asset.pk}" for r in results[:2])
