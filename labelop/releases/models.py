"""Snapshots: immutable, signed manifests of a project's labels at a moment."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SnapshotStatus(models.TextChoices):
    PENDING = "pending"  # a background job is writing it
    SEALED = "sealed"
    FAILED = "failed"


class Snapshot(models.Model):
    """One signed manifest, stored as an object. The row is sealed once: a trigger refuses
    any change to a row that is no longer pending, and every DELETE."""

    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT,
                                related_name="snapshots")
    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("storage.StorageLocation", on_delete=models.PROTECT,
                                 related_name="+")
    object_key = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)  # of the canonical manifest
    signature = models.CharField(max_length=128)  # Ed25519 over sha256's bytes, base64
    size = models.BigIntegerField()
    tasks = models.PositiveIntegerField()
    shapes = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=SnapshotStatus.choices,
                              default=SnapshotStatus.SEALED)
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["project", "name"], condition=~models.Q(status="failed"),
            name="one_snapshot_name_per_project")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class Export(models.Model):
    """A zip made from one snapshot in one format, with or without (which) images."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="exports")
    format = models.CharField(max_length=16)
    images = models.CharField(max_length=16)  # none | redacted | original
    by_exception = models.BooleanField(default=False)  # originals by an approved exception
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="+")
    location = models.ForeignKey("storage.StorageLocation", null=True, on_delete=models.PROTECT,
                                 related_name="+")
    object_key = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.format} export of snapshot {self.snapshot_id}"
