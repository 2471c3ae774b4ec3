"""Background jobs for releases. Ids in, reload, call one service, safe to run twice."""

from __future__ import annotations

from django_tasks import task

from labelop.jobs.services import job_run


@task()
def snapshot_write_job(job_id: int) -> None:
    from labelop.releases.services import snapshot_write

    job_run(job_id, snapshot_write)


@task()
def export_run_job(job_id: int) -> None:
    from labelop.releases.exports import export_run

    job_run(job_id, export_run)


@task()
def label_import_job(job_id: int) -> None:
    from labelop.releases.imports import label_import_run

    job_run(job_id, label_import_run)
