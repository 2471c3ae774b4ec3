"""Models that may process a project's images, and what they suggested."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Runs(models.TextChoices):
    LOCAL = "local"  # inside this deployment: images never leave it
    EXTERNAL = "external"  # an HTTP endpoint elsewhere: images are sent to it


class ModelEndpoint(models.Model):
    """A model the site admin made available. External ones are an URL the image is POSTed to;
    the policy decides which projects may use them."""

    # What the model list says of every model, local ones included (inference.local).
    kind = "objects"
    runtime = "HTTP"
    reads_text = False

    name = models.CharField(max_length=64, unique=True)
    version = models.CharField(max_length=64, default="")
    runs = models.CharField(max_length=16, choices=Runs.choices)
    url = models.URLField(max_length=500, blank=True)
    # Off by default: an URL resolving to a private, loopback or link-local address is refused
    # (SSRF); the admin switches this on only for a model server on the internal network.
    allow_private_network = models.BooleanField(default=False)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    labels = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Prediction(models.Model):
    """One model run's suggestions for one task; people accept them into the annotation."""

    task = models.ForeignKey("annotations.Task", on_delete=models.CASCADE,
                             related_name="predictions")
    model = models.CharField(max_length=64)
    version = models.CharField(max_length=64, default="")
    runs = models.CharField(max_length=16, choices=Runs.choices)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    shapes = models.JSONField(default=list)  # the annotation format, each with a `score`
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["task", "-id"], name="prediction_task")]

    def __str__(self) -> str:
        return f"{self.model} on task {self.task_id}"
