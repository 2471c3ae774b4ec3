"""Background jobs for models. Ids in, reload, call one service, safe to run twice."""

from __future__ import annotations

from django_tasks import task

from labelop.jobs.services import job_run


@task()
def inference_run_job(job_id: int) -> None:
    from labelop.inference.services import inference_run

    job_run(job_id, inference_run)
