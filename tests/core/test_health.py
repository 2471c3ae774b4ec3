"""`/health` for load balancers and `labelop check` for operators: each part reported, a
stuck queue or a broken storage location degrades the answer, and the public answer names
no path, host or error."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from labelop.core import health
from labelop.jobs.models import Job, JobStatus
from labelop.storage.models import Encryption, StorageLocation


@pytest.fixture(autouse=True)
def _probe_storage_now() -> None:
    health._probed["at"] = 0.0  # each test sees its own storage, not a cached probe


def _health() -> dict:
    response = Client().get("/api/v1/health")
    assert response.status_code == 200
    return response.json()


def test_a_working_instance_is_ok(db: None, data_dir) -> None:
    StorageLocation.objects.create(name="disk", kind="local", params={"path": str(data_dir)},
                                   encryption=Encryption.SERVER, is_default=True)

    assert _health() == {"status": "ok", "database": health.connection.vendor,
                         "storage": {"ok": True}, "queue": {"ok": True}}


@pytest.mark.parametrize(("status", "age", "beat"), [
    (JobStatus.QUEUED, timedelta(minutes=6), None),  # no worker takes jobs
    (JobStatus.RUNNING, timedelta(hours=1), timedelta(minutes=20)),  # a worker died mid-job
])
def test_a_stuck_queue_degrades_the_answer(db: None, status, age, beat) -> None:
    now = timezone.now()
    Job.objects.create(kind="snapshot", status=status, created_at=now - age,
                       heartbeat_at=now - beat if beat else None)

    answer = _health()

    assert (answer["status"], answer["queue"]) == ("degraded", {"ok": False})


def test_a_job_waiting_briefly_is_normal(db: None) -> None:
    Job.objects.create(kind="snapshot", created_at=timezone.now() - timedelta(seconds=30))
    assert _health()["queue"] == {"ok": True}


def test_a_broken_location_degrades_the_answer_without_saying_where(db: None,
                                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the objects should go")
    StorageLocation.objects.create(name="broken", kind="local",
                                   params={"path": str(blocker / "objects")},
                                   encryption=Encryption.SERVER, is_default=True)

    response = Client().get("/api/v1/health")

    assert response.json()["status"] == "degraded"
    assert response.json()["storage"] == {"ok": False}
    assert str(tmp_path) not in response.content.decode()
    [check] = [c for c in health.storage() if c.name == "storage broken"]
    assert not check.ok
    assert str(blocker) in check.detail  # the operator is told where


def test_a_customer_key_that_is_gone_fails_the_storage_check(db: None, data_dir,
                                                             monkeypatch) -> None:
    from labelop.storage import keys

    key = os.urandom(32)
    monkeypatch.setenv("HEALTH_TEST_KEY", key.hex())
    StorageLocation.objects.create(
        name="held", kind="local", params={"path": str(data_dir / "held")},
        encryption=Encryption.CUSTOMER, customer_key_source="env:HEALTH_TEST_KEY",
        customer_key_fingerprint=keys.fingerprint(key))
    assert [c.ok for c in health.storage()] == [True]

    monkeypatch.delenv("HEALTH_TEST_KEY")

    [check] = health.storage()
    assert not check.ok
    assert "HEALTH_TEST_KEY" in check.detail


def _check(data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
    return subprocess.run([sys.executable, "-m", "labelop", "--data-dir", str(data_dir),
                           "check"], env=env, capture_output=True, text=True, timeout=120)


def test_labelop_check_passes_a_migrated_instance_and_names_what_is_wrong(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    before = _check(data_dir)  # a new data dir: nothing migrated yet
    assert before.returncode == 1
    assert "FAIL  migrations" in before.stdout
    assert "labelop migrate" in before.stdout
    assert "queue" not in before.stdout  # checks that need the tables are not attempted

    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
    subprocess.run([sys.executable, "-m", "labelop", "--data-dir", str(data_dir), "migrate"],
                   env=env, check=True, capture_output=True, timeout=300)
    after = _check(data_dir)
    assert after.returncode == 0, after.stdout + after.stderr
    for name in ("settings", "data dir", "database", "migrations", "queue", "storage"):
        assert f"ok    {name}" in after.stdout

    data_dir.chmod(0o755)
    loose = _check(data_dir)
    assert loose.returncode == 1
    assert "FAIL  data dir: others may read" in loose.stdout
