from __future__ import annotations

from ninja import Router

from labelop.core.auth import ApiRequest
from labelop.core.errors import NotFound
from labelop.jobs.models import Job
from labelop.jobs.schemas import JobOut
from labelop.permissions import Action, require

router = Router(tags=["jobs"])


@router.get("/{job_id}", response=JobOut, operation_id="jobs_job_get",
            summary="A background job's status and progress")
def job_get(request: ApiRequest, job_id: int) -> Job:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.project_id is None:
        raise NotFound("Not found.")
    require(request.auth, Action.JOB_VIEW, job)
    return job
