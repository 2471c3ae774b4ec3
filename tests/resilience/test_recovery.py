"""What lets a crash leave nothing behind: locks that die with their process, jobs whose worker
died running again (or failing, saying so), a job and its queue entry written together, and a
snapshot whose writer died giving up its place."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import datetime

import pytest
from django.db import connection, transaction
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from labelop.core.liveness import Held, alive
from labelop.jobs.models import Job, JobStatus
from labelop.jobs.recovery import MAX_ATTEMPTS, jobs_recover, worker_lock
from labelop.jobs.services import job_create, job_finish, job_progress
from labelop.releases.jobs import snapshot_write_job
from labelop.releases.models import Snapshot
from labelop.releases.services import snapshots_recover
from tests.conftest import World, api_for, elsewhere

pytestmark = pytest.mark.usefixtures("data_dir")


def _hold_forever(name: str, ready: multiprocessing.Queue) -> None:
    held = Held(name)
    ready.put(held.acquired)
    signal.pause()


def test_a_lock_dies_with_its_process(db) -> None:
    connection.ensure_connection()
    ready: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_hold_forever,
                                                          args=("the lock", ready))
    child.start()
    try:
        assert ready.get(timeout=30) is True
        assert alive("the lock")
        assert not Held("the lock").acquired  # the holder is alive: nobody else gets it
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join()

    deadline = time.monotonic() + 10  # PostgreSQL ends a dead client's session moments later
    while alive("the lock") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive("the lock")
    with Held("the lock") as taken:
        assert taken.acquired
        assert alive("the lock")
    assert not alive("the lock")
    assert not alive("another lock")


def _claimed_job(*workers: str) -> Job:
    job = job_create(kind="snapshot", project_id=None, created_by=None, params={},
                     enqueue=lambda job_id: snapshot_write_job.enqueue(job_id))
    DBTaskResult.objects.filter(args_kwargs__args=[job.pk]).update(
        status=TaskResultStatus.RUNNING, worker_ids=list(workers))
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    return job


def _result(job: Job) -> DBTaskResult:
    return DBTaskResult.objects.get(args_kwargs__args=[job.pk])


def test_a_job_whose_worker_died_is_queued_again(db) -> None:
    dead = _claimed_job("labelop-gone-1")
    foreign = _claimed_job("a-plain-db-worker")  # holds no lock: not ours to judge
    with worker_lock("labelop-alive-1"):
        busy = _claimed_job("labelop-alive-1")

        assert jobs_recover() == 1
        assert _result(foreign).status == TaskResultStatus.RUNNING

        assert (_result(busy).status, Job.objects.get(pk=busy.pk).status) == (
            TaskResultStatus.RUNNING, JobStatus.RUNNING)  # its worker lives: left alone
    assert (_result(dead).status, Job.objects.get(pk=dead.pk).status) == (
        TaskResultStatus.READY, JobStatus.QUEUED)
    assert _result(dead).worker_ids == ["labelop-gone-1"]  # the next claim adds the next one


def test_a_job_cut_short_too_often_fails_saying_why(db) -> None:
    job = _claimed_job(*(f"labelop-gone-{i}" for i in range(MAX_ATTEMPTS)))

    assert jobs_recover() == 1

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error["code"] == "worker_stopped"
    assert f"{MAX_ATTEMPTS} times" in job.error["message"]
    assert _result(job).status == TaskResultStatus.FAILED
    assert jobs_recover() == 0


def test_a_job_whose_worker_died_after_its_work_stays_succeeded(db) -> None:
    job = _claimed_job("labelop-gone-1")
    job_finish(job, result={"done": True})  # e.g. a label import, with its writes
    job_finish(job, error={"code": "cleanup_failed"})  # what came after cannot undo it

    assert jobs_recover() == 1

    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {"done": True})
    assert _result(job).status == TaskResultStatus.SUCCESSFUL


def test_a_forked_child_lets_go_of_its_copy_of_a_lock(db) -> None:
    connection.ensure_connection()
    with Held("the parent's") as held:
        assert held.intact()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its copies closed at once, the parent's lock untouched
            os.write(write, b"1" if held._conn is None and held._fd is None else b"0")
            os._exit(0)
        os.waitpid(pid, 0)
        assert os.read(read, 1) == b"1"
        assert held.intact()
        assert alive("the parent's")
    assert not held.intact()
    assert not alive("the parent's")


def test_a_job_and_its_queue_entry_are_written_together(db) -> None:
    def dies_after_the_job() -> None:
        with transaction.atomic():
            job_create(kind="snapshot", project_id=None, created_by=None, params={},
                       enqueue=lambda job_id: snapshot_write_job.enqueue(job_id))
            raise RuntimeError("the server died here")

    with pytest.raises(RuntimeError):
        dies_after_the_job()
    assert not Job.objects.exists()
    assert not DBTaskResult.objects.exists()

    with transaction.atomic():
        job = job_create(kind="snapshot", project_id=None, created_by=None, params={},
                         enqueue=lambda job_id: snapshot_write_job.enqueue(job_id))
        assert _result(job).status == TaskResultStatus.READY  # before the commit already


def _abandoned(world: World, parent: int) -> Snapshot:
    """What a request killed while writing a snapshot leaves: its row pending, no job."""
    return Snapshot.objects.create(
        project=world.project, name="v2", parent_id=parent,
        location=Snapshot.objects.get(pk=parent).location, object_key="", sha256="",
        signature="", size=0, tasks=0, shapes=0, status="pending")


def test_a_snapshot_whose_writer_died_gives_up_its_place(world: World) -> None:
    owner = api_for(world.users["owner"])
    p = world.project.pk
    first = owner.post(f"/projects/{p}/snapshots", {"name": "v1"}).json()
    dead = _abandoned(world, first["id"])

    with Held(f"snapshot-writer:{p}"):  # a live writer is at work
        busy = owner.post(f"/projects/{p}/snapshots", {"name": "v3"})
        assert (busy.status_code, busy.json()["code"]) == (409, "snapshot_in_progress")
        assert snapshots_recover() == 0
        assert Snapshot.objects.get(pk=dead.pk).status == "pending"

    again = owner.post(f"/projects/{p}/snapshots", {"name": "v2"})

    assert again.status_code == 201, again.content
    assert Snapshot.objects.get(pk=dead.pk).status == "failed"
    assert again.json()["parent"] == first["id"]


def test_a_workers_watch_gives_up_a_snapshot_whose_writer_died(world: World) -> None:
    owner = api_for(world.users["owner"])
    first = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "v1"}).json()
    dead = _abandoned(world, first["id"])

    assert snapshots_recover() == 1

    assert Snapshot.objects.get(pk=dead.pk).status == "failed"
    assert snapshots_recover() == 0


@pytest.mark.django_db(transaction=True)
def test_a_job_reporting_from_inside_its_transaction_is_seen_alive_at_once() -> None:
    """A label import writes all its work in one transaction; its progress is seen meanwhile
    on PostgreSQL, and on SQLite (whose one writer is that transaction) at the commit."""
    job = Job.objects.create(kind="label_import", status=JobStatus.RUNNING)
    with transaction.atomic():
        job_progress(job, done=5000, total=50000)
        seen = _read_elsewhere(job.pk)
    reported = (5000, 50000, job.heartbeat_at)
    assert seen == (reported if connection.vendor == "postgresql" else (0, None, None))
    assert _read_elsewhere(job.pk) == reported


def _read_elsewhere(pk: int) -> tuple[int, int | None, datetime | None]:
    """The job's progress and heartbeat as another connection sees them."""
    return elsewhere(lambda: Job.objects.filter(pk=pk).values_list(
        "done", "total", "heartbeat_at").get())
