"""Starting jobs and reporting their progress. The work itself lives in each app's jobs.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from labelop.core.errors import DomainError
from labelop.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)
# A running job reports progress at least this often; one silent for longer has stopped
# (its worker was killed or its machine went away).
STALE_AFTER = timedelta(minutes=15)


def job_create(*, kind: str, project_id: int | None, created_by: Any, params: dict[str, Any],
               enqueue: Callable[[int], Any]) -> Job:
    """Record a queued job and queue its task, in the caller's transaction: the queue lives in
    the same database, so both land or neither does (a server killed between the two leaves
    no job that nothing will ever run). Workers see the task once the transaction commits."""
    job = Job.objects.create(kind=kind, project_id=project_id, created_by=created_by,
                             params=params)
    enqueue(job.pk)
    return job


def job_start(job_id: int) -> Job | None:
    """Mark a job running; None if it already finished (a task delivered twice)."""
    with transaction.atomic():
        job = Job.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return None
        job.status, job.started_at = JobStatus.RUNNING, job.started_at or timezone.now()
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
    return job


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    """Record how far a job has come, and that it is alive. Seen at once even from inside a
    transaction on PostgreSQL (a streamed label import reports from inside its one), through a
    connection of its own; on SQLite, whose one writer is that transaction, it lands at the
    commit. A report that cannot be written is only logged: the work goes on."""
    job.done, job.heartbeat_at = done, timezone.now()
    if total is not None:
        job.total = total
    if not (connection.in_atomic_block and connection.vendor == "postgresql"):
        Job.objects.filter(pk=job.pk).update(done=job.done, total=job.total,
                                             heartbeat_at=job.heartbeat_at)
        return
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with side.cursor() as cursor:
            # Never waits behind the job's own transaction, should that ever hold the row.
            cursor.execute("SET lock_timeout = '1s'")
            cursor.execute(f"UPDATE {Job._meta.db_table} SET done = %s, total = %s, "  # noqa: S608
                           "heartbeat_at = %s WHERE id = %s",
                           [job.done, job.total, job.heartbeat_at, job.pk])
    except DatabaseError:
        logger.warning("job %s: its progress could not be reported", job.pk, exc_info=True)
    finally:
        side.close()


def job_stopped(job: Job) -> bool:
    """Whether a job ended without finishing: failed, or running and silent for longer than
    STALE_AFTER (marked failed then, saying so). A queued job still waits for a worker."""
    if job.status == JobStatus.FAILED:
        return True
    silent_since = job.heartbeat_at or job.started_at
    if job.status != JobStatus.RUNNING or silent_since is None or (
            silent_since > timezone.now() - STALE_AFTER):
        return False
    job_finish(job, error={"code": "job_stopped", "message": "No sign of life for "
                           f"{STALE_AFTER.seconds // 60} minutes: its worker stopped."})
    return True


def job_finish(job: Job, *, result: dict[str, Any] | None = None,
               error: dict[str, Any] | None = None) -> None:
    """Record how the job ended, once: a job that ended already keeps its outcome (a label
    import records it with its writes; a cleanup failing after that must not undo it)."""
    job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.result, job.error, job.finished_at = result or {}, error, timezone.now()
    Job.objects.filter(pk=job.pk, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).update(
        status=job.status, result=job.result, error=job.error, finished_at=job.finished_at,
        done=job.done, total=job.total)


def job_run(job_id: int, work: Callable[[Job], dict[str, Any]]) -> None:
    """Run `work(job)` with status bookkeeping; an exception fails the job with its reason."""
    job = job_start(job_id)
    if job is None:
        return
    try:
        result = work(job)
    except Exception as exc:  # the job records why it failed; the worker keeps going
        logger.exception("job %s failed", job_id)
        code = exc.code if isinstance(exc, DomainError) else type(exc).__name__
        job_finish(job, error={"code": code, "message": str(exc)[:1000]})
        return
    except BaseException:  # the worker was told to stop at once (a second SIGTERM, Ctrl-C)
        job_finish(job, error={"code": "interrupted",
                               "message": "Its worker was stopped while it ran."})
        raise
    job_finish(job, result=result)
