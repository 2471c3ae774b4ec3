from __future__ import annotations

from ninja import Router, Status

from labelop.assets.schemas import JobStarted
from labelop.core.auth import ApiRequest
from labelop.inference import schemas, selectors, services
from labelop.projects.selectors import project_get

router = Router(tags=["models"])


@router.get("/models", response=schemas.ModelPage, operation_id="inference_model_list",
            summary="Models this deployment offers, and where each runs")
def model_list(request: ApiRequest) -> dict:
    return {"items": [schemas.ModelOut.of(m) for m in selectors.model_list(actor=request.auth)],
            "next": None}


@router.post("/models/external", response={201: schemas.ModelOut},
             operation_id="inference_model_register_external",
             summary="Register an external (HTTP) model endpoint (site admin)")
def model_register_external(request: ApiRequest, body: schemas.ExternalModelIn) -> Status:
    endpoint = services.model_register_external(actor=request.auth, **body.model_dump())
    return Status(201, schemas.ModelOut.of(endpoint))


@router.post("/projects/{project_id}/inference", response={202: JobStarted},
             operation_id="inference_start",
             summary="Run a model over the project's tasks (owners; the profile may forbid it)")
def inference_start(request: ApiRequest, project_id: int, body: schemas.InferenceIn) -> Status:
    project = project_get(actor=request.auth, project_id=project_id)
    job = services.inference_start(actor=request.auth, project=project, model=body.model,
                                   task_ids=body.task_ids, text_pattern=body.text_pattern)
    return Status(202, {"job": job.pk})


@router.post("/projects/{project_id}/suggest-redactions", response={202: schemas.JobsStarted},
             operation_id="inference_suggest_redactions_project",
             summary="Queue the local face and text models over every task (owners)")
def suggest_redactions_project(request: ApiRequest, project_id: int) -> Status:
    project = project_get(actor=request.auth, project_id=project_id)
    jobs = [services.inference_start(actor=request.auth, project=project, model=name).pk
            for name in services.REDACTION_MODELS]
    return Status(202, {"job": jobs[0], "jobs": jobs})


@router.post("/tasks/{task_id}/suggest-redactions", response={201: schemas.PredictionPage},
             operation_id="inference_suggest_redactions",
             summary="Run the local face and text models on the task (whoever may edit it)")
def suggest_redactions(request: ApiRequest, task_id: int) -> Status:
    made = services.suggest_redactions(actor=request.auth, task_id=task_id)
    return Status(201, {"items": made, "next": None})


@router.get("/tasks/{task_id}/predictions", response=schemas.PredictionPage,
            operation_id="inference_predictions",
            summary="What models suggested for the task, newest first")
def predictions(request: ApiRequest, task_id: int) -> dict:
    items = list(selectors.predictions(actor=request.auth, task_id=task_id)[:50])
    return {"items": items, "next": None}
