"""Registering models and running them over a project's images. Each step audited; the
profile's refusal is checked when the run is asked for and again when it runs."""

from __future__ import annotations

import io
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from PIL import Image
from pydantic import ValidationError

from labelop.annotations import shapes as shape_rules
from labelop.annotations.models import Task
from labelop.assets.ingest import FORMATS
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.addresses import Refused, vetted_target
from labelop.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from labelop.inference.local import LocalModel, WeightsMismatch, local_models
from labelop.inference.models import ModelEndpoint, Prediction, Runs
from labelop.inference.outbound import post_image
from labelop.jobs.models import Job
from labelop.jobs.services import job_create, job_progress
from labelop.permissions import Action, Actor, require
from labelop.privacy.profiles import model_refusal
from labelop.projects.models import Project
from labelop.storage.backends import StorageError
from labelop.storage.services import object_read

logger = logging.getLogger(__name__)


@transaction.atomic
def model_register_external(*, actor: Actor, name: str, url: str,
                            allow_private_network: bool = False, version: str = "",
                            labels: list[str] | None = None) -> ModelEndpoint:
    """A site admin makes an external (HTTP) model available; projects whose profile allows
    external processing may then send images to it."""
    require(actor, Action.MODEL_MANAGE)
    if name in local_models() or ModelEndpoint.objects.filter(name=name).exists():
        raise Conflict(f"A model named {name!r} exists already.", code="model_name_taken")
    try:
        vetted_target(url, allow_private_network=allow_private_network)
    except Refused as exc:
        raise Invalid(str(exc), code="endpoint_refused") from exc
    endpoint = ModelEndpoint.objects.create(
        name=name, url=url, runs=Runs.EXTERNAL, version=version, labels=labels or [],
        allow_private_network=allow_private_network, created_by=actor.user)
    record(actor=actor, action=AuditAction.MODEL_REGISTERED, target=f"model:{name}",
           details={"runs": Runs.EXTERNAL, "url": url,
                    "allow_private_network": allow_private_network})
    return endpoint


def inference_start(*, actor: Actor, project: Project, model: str,
                    task_ids: list[int] | None = None, text_pattern: str | None = None) -> Job:
    """Queue a run of `model` over the project's tasks (or the given ones). A model the
    profile forbids is refused here, and the refusal is audited."""
    require(actor, Action.INFERENCE_RUN, project)
    endpoint = model_named(model)
    refusal = model_refusal(project, endpoint)
    if refusal:
        record(actor=actor, action=AuditAction.INFERENCE_REFUSED, project=project,
               target=f"model:{model}", details={"reason": refusal})  # kept: no transaction
        raise Forbidden(refusal, code="external_model_forbidden")
    if text_pattern is not None and not endpoint.reads_text:
        raise Invalid(f"{model} does not read text: a text pattern needs a model that does "
                      "(text).", code="pattern_not_supported")
    if task_ids is not None:
        found = set(Task.objects.filter(project=project, pk__in=task_ids)
                    .values_list("pk", flat=True))
        missing = sorted(set(task_ids) - found)
        if missing:
            raise Invalid(f"Tasks not in this project: {missing[:20]}.", code="unknown_tasks")
    from labelop.inference.jobs import inference_run_job

    with transaction.atomic():
        job = job_create(kind="inference", project_id=project.pk, created_by=actor.user,
                         params={"model": model, "task_ids": task_ids,
                                 "text_pattern": text_pattern},
                         enqueue=lambda job_id: inference_run_job.enqueue(job_id))
        record(actor=actor, action=AuditAction.INFERENCE_STARTED, project=project,
               target=f"job:{job.pk}", details={"model": model, "runs": endpoint.runs,
                                                "tasks": len(task_ids) if task_ids else "all"})
    return job


REDACTION_MODELS = ("faces", "text")


class ModelUnavailable(DomainError):
    status = 503
    code = "model_unavailable"


def suggest_redactions(*, actor: Actor, task_id: int) -> list[Prediction]:
    """One click in the editor: the local face and text models on this task's image, their
    regions kept as redaction suggestions (never written into the annotation). Audited."""
    from labelop.annotations.selectors import task_get

    task = task_get(actor=actor, task_id=task_id, action=Action.ANNOTATION_EDIT)
    task = Task.objects.select_related("asset", "asset__location", "project").get(pk=task.pk)
    made = []
    for name in REDACTION_MODELS:
        model = model_named(name)
        refusal = model_refusal(task.project, model)
        if refusal:  # a local model: no profile refuses it; kept for a team's own plugins
            raise Forbidden(refusal, code="external_model_forbidden")
        try:  # seconds of work: outside any transaction
            shapes = _predict(model, task.project, task)
        except (Refused, WeightsMismatch, OSError) as exc:
            raise ModelUnavailable(f"{model.name} could not run: {exc}") from exc
        with transaction.atomic():
            made.append(Prediction.objects.create(
                task=task, model=model.name, version=model.version, runs=model.runs,
                weights_sha256=model.weights_sha256, shapes=shapes))
            record(actor=actor, action=AuditAction.INFERENCE_RAN, project=task.project,
                   target=f"task:{task.pk}", details={
                       "model": model.name, "version": model.version, "runs": model.runs,
                       "weights_sha256": model.weights_sha256, "images": 1})
    return made


def model_named(name: str) -> LocalModel | ModelEndpoint:
    """A local model (entry points) or a registered external one."""
    found = local_models().get(name) or ModelEndpoint.objects.filter(name=name).first()
    if found is None:
        raise NotFound(f"No model named {name!r}.", code="model_not_found")
    return found


def inference_run(job: Job) -> dict[str, Any]:
    """The job's work: each task's image through the model, its answer kept as a Prediction
    (never written into a person's annotation). One image failing never sinks the others."""
    assert job.project_id is not None  # inference jobs always belong to a project
    project = Project.objects.get(pk=job.project_id)
    endpoint = model_named(job.params["model"])
    tasks = Task.objects.filter(project=project).select_related("asset", "asset__location")
    if job.params.get("task_ids") is not None:
        tasks = tasks.filter(pk__in=job.params["task_ids"])
    # A run cut short (its worker died) goes on where it stopped, counting what it made.
    earlier = Prediction.objects.filter(job=job)
    made_before = earlier.count()
    tasks = tasks.exclude(pk__in=earlier.values("task_id"))
    remaining = tasks.count()
    total = made_before + remaining
    job_progress(job, done=made_before, total=total)
    sent, made, failed = 0, 0, []
    try:
        for done, task in enumerate(tasks.order_by("pk").iterator(chunk_size=200), start=1):
            if done % 20 == 1:  # the policy may tighten while a long run goes on
                project.refresh_from_db(fields=["sensitivity", "policy", "review_required"])
                _refuse_if_forbidden(job, project, endpoint)
            try:
                shapes = _predict(endpoint, project, task, job.params.get("text_pattern"))
            except (Refused, DomainError, StorageError) as exc:  # this image only; go on
                failed.append({"task": task.pk, "message": getattr(exc, "detail", str(exc))})
            except WeightsMismatch:
                raise  # the model itself is wrong: stop the run
            except Exception as exc:  # an image the decoder or the model chokes on
                logger.exception("inference on task %s failed", task.pk)
                failed.append({"task": task.pk, "message": f"{type(exc).__name__}: {exc}"})
            else:
                Prediction.objects.create(task=task, model=endpoint.name,
                                          version=endpoint.version, runs=endpoint.runs,
                                          weights_sha256=endpoint.weights_sha256, shapes=shapes,
                                          job=job)
                made += 1
            sent = done
            if done % 20 == 0:
                job_progress(job, done=made_before + done)
    finally:  # images that went out are on record, even when the run stops midway
        if sent:
            record(actor=job.created_by, action=AuditAction.INFERENCE_RAN, project=project,
                   target=f"job:{job.pk}", details={
                       "model": endpoint.name, "version": endpoint.version,
                       "runs": endpoint.runs, "weights_sha256": endpoint.weights_sha256,
                       "images": sent, "predictions": made, "failed": len(failed),
                       "complete": sent == remaining})
    job_progress(job, done=total)
    return {"predictions": made_before + made, "failed": failed[:100]}


def _refuse_if_forbidden(job: Job, project: Project, endpoint: LocalModel | ModelEndpoint
                         ) -> None:
    refusal = model_refusal(project, endpoint)
    if refusal:
        record(actor=job.created_by, action=AuditAction.INFERENCE_REFUSED, project=project,
               target=f"job:{job.pk}", details={"model": endpoint.name, "reason": refusal})
        raise Refused(refusal)


def _predict(endpoint: LocalModel | ModelEndpoint, project: Project, task: Task,
             text_pattern: str | None = None) -> list[dict]:
    asset = task.asset
    data = b"".join(object_read(asset.location, asset.object_key, asset.parts, 1))
    if isinstance(endpoint, LocalModel):
        with Image.open(io.BytesIO(data)) as image:  # stored pixels: shapes are in them
            raw: Any = endpoint.predict(image, pattern=text_pattern)
    else:
        answer = post_image(endpoint.url, data, FORMATS[asset.format],
                            allow_private_network=endpoint.allow_private_network)
        raw = answer.get("shapes") if isinstance(answer, dict) else None
    if not isinstance(raw, list):
        raise Refused('The answer holds no "shapes" list.')
    kept, problems = [], []
    for shape in raw[:settings.LABELOP_MAX_SHAPES]:  # one bad shape never sinks the others
        score = shape.pop("score", None) if isinstance(shape, dict) else None
        try:
            [stored] = shape_rules.validate(shape_rules.SHAPE_LIST.validate_python([shape]),
                                            labels=project.labels, width=asset.width,
                                            height=asset.height, max_shapes=1)
        except ValidationError as exc:
            problems.append(f"not in the annotation format: {exc.errors()[0]['msg']}")
        except Invalid as exc:
            problems.append(exc.detail)
        else:
            kept.append({**stored, "score": score})
    if problems and not kept:
        raise Refused(f"None of the {len(raw)} shapes fits the project and the image; the "
                      f"first: {problems[0]}")
    return kept
