"""Starting jobs and reporting their progress. The work itself lives in each app's jobs.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from labelop.jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)


def job_create(*, kind: str, project_id: int | None, created_by: Any, params: dict[str, Any],
               enqueue: Callable[[int], Any]) -> Job:
    """Record a queued job; `enqueue(job_id)` runs once the surrounding transaction commits."""
    job = Job.objects.create(kind=kind, project_id=project_id, created_by=created_by,
                             params=params)
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def job_start(job_id: int) -> Job | None:
    """Mark a job running; None if it already finished (a task delivered twice)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return None
        job.status, job.started_at = JobStatus.RUNNING, job.started_at or timezone.now()
        job.save(update_fields=["status", "started_at"])
    return job


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    job.done = done
    if total is not None:
        job.total = total
    Job.objects.filter(pk=job.pk).update(done=job.done, total=job.total)


def job_finish(job: Job, *, result: dict[str, Any] | None = None,
               error: dict[str, Any] | None = None) -> None:
    job.status = JobStatus.FAILED if error else JobStatus.SUCCEEDED
    job.result, job.error, job.finished_at = result or {}, error, timezone.now()
    job.save(update_fields=["status", "result", "error", "finished_at", "done", "total"])


def job_run(job_id: int, work: Callable[[Job], dict[str, Any]]) -> None:
    """Run `work(job)` with status bookkeeping; an exception fails the job with its reason."""
    job = job_start(job_id)
    if job is None:
        return
    try:
        result = work(job)
    except Exception as exc:  # the job records why it failed; the worker keeps going
        logger.exception("job %s failed", job_id)
        job_finish(job, error={"code": type(exc).__name__, "message": str(exc)[:1000]})
        return
    job_finish(job, result=result)
