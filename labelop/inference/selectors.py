"""Reads for models and predictions, scoped by the policy."""

from __future__ import annotations

from django.db.models import QuerySet

from labelop.annotations.selectors import task_get
from labelop.inference.local import LocalModel, local_models
from labelop.inference.models import ModelEndpoint, Prediction
from labelop.permissions import Action, Actor, require


def model_list(*, actor: Actor) -> list[LocalModel | ModelEndpoint]:
    """Local models first (by name), then the external endpoints: a short list."""
    require(actor, Action.MODEL_LIST)
    local = [local_models()[name] for name in sorted(local_models())]
    return [*local, *ModelEndpoint.objects.order_by("name")]


def predictions(*, actor: Actor, task_id: int) -> QuerySet[Prediction]:
    """The task's predictions, newest first, for whoever may see the task."""
    task = task_get(actor=actor, task_id=task_id)
    return Prediction.objects.filter(task=task).order_by("-pk")


def suggestions(predictions: QuerySet[Prediction]) -> list[dict]:
    """The latest run of each model, flattened into the shapes the editor suggests."""
    latest: dict[str, Prediction] = {}
    for prediction in predictions[:20]:
        latest.setdefault(prediction.model, prediction)
    return [{**shape, "model": p.model} for p in latest.values() for shape in p.shapes]
