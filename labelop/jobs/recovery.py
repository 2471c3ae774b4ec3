"""Jobs whose worker died (kill -9, out of memory, a lost machine) run again, or fail saying so.

Every `labelop worker` holds a lock that dies with its process (core.liveness) from before it
claims its first task. A task still marked running by a worker whose lock is free was cut
short: it goes back to the queue, up to MAX_ATTEMPTS claims in all, and its job says queued
again. Every job's work is safe to run twice (each says how), so running again is resuming.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from django.db import close_old_connections, transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from labelop.core.liveness import Held, alive
from labelop.jobs.models import Job, JobStatus
from labelop.jobs.services import job_finish

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
RECOVER_EVERY = 5.0  # seconds between two looks, in every worker


# Only workers started by `labelop worker` hold a lock; a task claimed by another (a plain
# `manage.py db_worker`, or an older release during a rolling upgrade) is left alone.
PREFIX = "labelop-"


def worker_id() -> str:
    """A new worker's name: where it runs, and unique (django-tasks allows 64 characters)."""
    return f"{PREFIX}{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(4)}"


def worker_lock(worker: str) -> Held:
    """Taken by the worker `worker` for its whole life; free once it is gone."""
    return Held(_lock_name(worker))


def _lock_name(worker: str) -> str:
    return f"labelop-worker:{worker}"


def jobs_recover() -> int:
    """Give back to the queue every task whose worker is gone (or fail it after MAX_ATTEMPTS
    claims); the number of tasks seen to."""
    seen = 0
    for result in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).only(
            "id", "worker_ids"):
        last = result.worker_ids[-1] if result.worker_ids else ""
        if not last.startswith(PREFIX) or alive(_lock_name(last)):
            continue
        seen += _recover(result)
    return seen


def _recover(seen: DBTaskResult) -> int:
    worker_ids = seen.worker_ids
    with transaction.atomic():
        result = (DBTaskResult.objects.select_for_update(no_key=True)
                  .filter(pk=seen.pk, status=TaskResultStatus.RUNNING).first())
        if result is None or result.worker_ids != worker_ids:  # another worker saw to it
            return 0
        job = (Job.objects.select_for_update(no_key=True)
               .filter(pk=result.args_kwargs["args"][0]).first())
        unfinished = job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        if unfinished and len(worker_ids) < MAX_ATTEMPTS:
            result.status, result.started_at = TaskResultStatus.READY, None
            result.save(update_fields=["status", "started_at"])
            assert job is not None
            job.status = JobStatus.QUEUED
            job.save(update_fields=["status"])
            logger.warning("job %s: its worker %s stopped; queued again", job.pk, worker_ids[-1])
            return 1
        result.finished_at = timezone.now()
        if job is not None and job.status == JobStatus.SUCCEEDED:  # died after its work
            result.status = TaskResultStatus.SUCCESSFUL
        else:
            result.status = TaskResultStatus.FAILED
            result.exception_class_path = "labelop.jobs.recovery.WorkerStopped"
            result.traceback = f"Its workers stopped while running it: {', '.join(worker_ids)}"
        result.save(update_fields=["status", "finished_at", "exception_class_path",
                                   "traceback"])
        if unfinished:
            assert job is not None
            job_finish(job, error={"code": "worker_stopped", "message": (
                f"Its worker stopped while running it, {len(worker_ids)} times; not tried "
                "again. Ask for it anew.")})
        return 1


def recover_forever(stop: threading.Event, own: Held) -> None:
    """A worker's watch over the others (and over its own earlier lives), every RECOVER_EVERY
    seconds. A worker whose own lock is gone (its connection dropped) looks dead to the
    others, who would run its task again beside it: it stops at once, to be restarted."""
    while not stop.is_set():
        if not own.intact():
            logger.critical("this worker lost its liveness lock; stopping")
            os._exit(75)  # EX_TEMPFAIL: its service manager starts it again
        try:
            close_old_connections()
            jobs_recover()
            # Not a job, but cut short the same way: a snapshot written in a killed request.
            from labelop.releases.services import snapshots_recover

            snapshots_recover()
        except Exception:  # the database may be down for a while: look again later
            logger.exception("recovering stopped jobs failed")
        stop.wait(RECOVER_EVERY)
