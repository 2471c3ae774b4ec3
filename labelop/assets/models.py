"""Asset: one stored image, as ingested (metadata stripped, hashed, sanitized name)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Asset(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.PROTECT,
                                related_name="assets")
    location = models.ForeignKey("storage.StorageLocation", on_delete=models.PROTECT,
                                 related_name="assets")
    # One object holds two parts: the thumbnail (JPEG), then the image (storage.object_read).
    object_key = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)  # of the stored (stripped) bytes
    size = models.BigIntegerField()
    thumbnail_size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8)
    mode = models.CharField(max_length=16)  # Pillow mode, e.g. "RGB", "I;16"
    # EXIF orientation (1-8) of the original; the editor and exports apply it.
    orientation = models.PositiveSmallIntegerField(default=1)
    original_name = models.CharField(max_length=255)  # display text only, sanitized
    stripped_metadata = models.JSONField(default=list)  # names of what was removed, no values
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="one_asset_per_image"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def parts(self) -> tuple[int, int]:
        """The plaintext sizes of the object's parts: thumbnail, image."""
        return (self.thumbnail_size, self.size)


class Rendition(models.Model):
    """A redacted copy of an asset, for one set of redaction regions; stored as its own
    object beside the original, under the same location and key management."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="renditions")
    regions_sha256 = models.CharField(max_length=64)
    regions = models.PositiveIntegerField()
    object_key = models.CharField(max_length=300)
    format = models.CharField(max_length=8)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["asset", "regions_sha256"],
                                               name="one_rendition_per_regions")]

    def __str__(self) -> str:
        return f"redacted {self.asset_id} ({self.regions} regions)"
