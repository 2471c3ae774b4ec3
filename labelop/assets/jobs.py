"""Background jobs for images. Ids in, reload, call one service, safe to run twice."""

from __future__ import annotations

from django_tasks import task

from labelop.jobs.services import job_run


@task()
def import_run_job(job_id: int) -> None:
    from labelop.assets.services import import_run

    job_run(job_id, import_run)
