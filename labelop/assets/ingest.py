"""Ingest: the one path by which an image enters LabelOp (upload, folder, bucket, CLI).

validate (sniff, decode fully, bound the pixel count) -> strip metadata losslessly ->
hash the stored bytes -> de-duplicate in the project -> store image and thumbnail
(encrypted as the location says) -> create Asset + Task + audit event in one transaction.
Object keys are derived from the project and the hash, so an interrupted import that runs
again writes the same keys and adopts what it had stored: no duplicates, no orphans.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import multiprocessing
import os
import signal
import sys
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from labelop.annotations.models import Task
from labelop.assets import metadata
from labelop.assets.metadata import Refused
from labelop.assets.models import Asset
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.projects.models import Project
from labelop.storage.backends import StorageError
from labelop.storage.models import StorageLocation
from labelop.storage.services import object_put

THUMBNAIL_SIZE = 256
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "WEBP": "image/webp",
           "BMP": "image/bmp"}
# Pillow's own bomb check is replaced by ours (a clear refusal before any decoding).
Image.MAX_IMAGE_PIXELS = None


@dataclass
class Ingested:
    asset: Asset
    task: Task
    duplicate: bool = False


@dataclass
class Prepared:
    """An image validated and stripped, ready to store."""

    data: bytes
    format: str
    width: int
    height: int
    mode: str
    orientation: int
    removed: list[str] = field(default_factory=list)
    thumbnail: bytes = b""
    sha256: str = ""
    size: int = 0
    thumbnail_size: int = 0

    def __post_init__(self) -> None:
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()
        self.size = self.size or len(self.data)
        self.thumbnail_size = self.thumbnail_size or len(self.thumbnail)


def sanitize_name(name: str) -> str:
    """Display text only: no path parts, no control or format characters, bounded."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z")
                   or ch == " ")
    return name.strip().lstrip(".")[:255] or "image"


def _decode(data: bytes, fmt: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Refused("corrupt", f"Not a readable {fmt} image: {exc}.") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise Refused("empty_image", f"The image is {width}x{height} pixels.")
    limit = settings.LABELOP_MAX_IMAGE_PIXELS
    if width * height > limit:
        raise Refused("too_many_pixels", f"{width}x{height} is more than the {limit:,} pixels "
                      "this server decodes (decompression bomb guard).")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Refused("truncated", f"The image data is incomplete or corrupt ({exc}).") from None
    return image


def eight_bit(image: Image.Image) -> Image.Image:
    """A displayable copy: 16-bit and 32-bit greyscale stretched to their own range."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        wide = image.convert("I") if image.mode != "F" else image
        low, high = cast(tuple[float, float], wide.getextrema())
        scale = 255.0 / (high - low) if high > low else 0.0
        return wide.point(lambda v: (v - low) * scale).convert("L")
    if image.mode in ("RGB", "L", "RGBA", "LA"):
        return image
    return image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info
                         else "RGB")


def thumbnail_of(image: Image.Image, orientation: int) -> bytes:
    thumb = eight_bit(image)
    scale = THUMBNAIL_SIZE / max(thumb.size)
    if scale < 1:  # a box reduction, then bilinear: sharp enough at this size, and quick
        size = (max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale)))
        thumb = thumb.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)
    thumb = _orient(thumb, orientation)
    if thumb.mode in ("RGBA", "LA"):  # thumbnails are always JPEG: flatten onto white
        flat = Image.new("RGB", thumb.size, "white")
        flat.paste(thumb.convert("RGBA"), mask=thumb.convert("RGBA").getchannel("A"))
        thumb = flat
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


_ORIENT = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
           4: [Image.Transpose.FLIP_TOP_BOTTOM],
           5: [Image.Transpose.TRANSPOSE], 6: [Image.Transpose.ROTATE_270],
           7: [Image.Transpose.TRANSVERSE], 8: [Image.Transpose.ROTATE_90]}


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    for step in _ORIENT.get(orientation, []):
        image = image.transpose(step)
    return image


def prepare(data: bytes) -> Prepared:
    """Validate and strip one file's bytes; Refused says why a file cannot be taken."""
    if not data:
        raise Refused("empty_file", "The file is empty.")
    if len(data) > settings.LABELOP_MAX_UPLOAD_BYTES:
        raise Refused("too_large", f"The file is larger than "
                      f"{settings.LABELOP_MAX_UPLOAD_BYTES:,} bytes.")
    fmt = metadata.sniff(data[:16])
    if fmt is None:
        raise Refused("unsupported_format",
                      "Not a JPEG, PNG, TIFF, WebP or BMP image (judged by its content).")
    image = _decode(data, fmt)
    orientation = int(image.getexif().get(0x0112, 1) or 1)
    names = metadata.exif_names(image)
    if fmt == "JPEG":
        stripped = metadata.strip_jpeg(data)
    elif fmt == "PNG":
        stripped = metadata.strip_png(data)
    elif fmt == "WEBP":
        stripped = metadata.strip_webp(data)
    elif fmt == "TIFF":
        stripped = metadata.strip_tiff(image)
    else:
        stripped = metadata.strip_bmp(data)
    removed = sorted(set(stripped.removed) | set(names))
    return Prepared(data=stripped.data, format=fmt, width=image.width, height=image.height,
                    mode=image.mode, orientation=orientation if 1 <= orientation <= 8 else 1,
                    removed=removed, thumbnail=thumbnail_of(image, orientation))


Source = bytes | str  # file content, or the path of a file to read (without following links)


def _read(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source
    try:  # O_NOFOLLOW: a file swapped for a link after the folder was checked is refused
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        raise Refused("unreadable", "The file could not be opened safely (a link?).") from None
    with os.fdopen(fd, "rb") as f:
        return f.read(settings.LABELOP_MAX_UPLOAD_BYTES + 1)


Target = tuple[Project, StorageLocation]


def _prepare_and_store(item: tuple[str, Source], target: Target | None
                       ) -> tuple[str, Prepared | Refused]:
    """Decode, strip and (with a target) store one file; what returns holds no image bytes
    when stored, so only metadata crosses back from a worker process."""
    name, source = item
    try:
        prepared = prepare(_read(source))
    except Refused as refused:
        return name, refused
    if target is not None:
        try:
            store_objects(*target, prepared)
        except StorageError as exc:
            return name, Refused("storage_failed", f"The image could not be stored: {exc}.")
        prepared.data = prepared.thumbnail = b""
    return name, prepared


def _worker_start() -> None:
    from labelop.storage import services

    services._backends.clear()  # an S3 client's connections must not be shared across a fork
    _die_with_parent()


def _die_with_parent() -> None:
    """A worker whose import was killed (kill -9) would wait forever on its task queue:
    the siblings hold the queue's other end open. Linux ends it with its parent."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call took effect
            os._exit(1)


def prepare_many(items: Iterable[tuple[str, Source]], workers: int, target: Target | None = None
                 ) -> Iterator[tuple[str, Prepared | Refused]]:
    """Prepare (and store) many files, in order, on `workers` processes: decoding, hashing,
    encryption and writes are an import's work. The database stays with the caller. At most
    2 x workers files are in flight, so memory stays flat at any import size."""
    if workers <= 1:
        yield from (_prepare_and_store(item, target) for item in items)
        return
    context = multiprocessing.get_context("fork")  # children inherit the configured settings
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_worker_start) as pool:
        window: deque = deque()
        for item in items:
            window.append(pool.submit(_prepare_and_store, item, target))
            if len(window) >= 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def object_key(project: Project, sha256: str) -> str:
    return f"p{project.pk}/{sha256}"


def existing_asset(project: Project, sha256: str) -> Ingested | None:
    asset = Asset.objects.filter(project=project, sha256=sha256).select_related("task").first()
    return Ingested(asset, asset.task, duplicate=True) if asset else None


def store_objects(project: Project, location: StorageLocation, prepared: Prepared) -> None:
    """Write the thumbnail and the image as the two parts of one object (encrypted as the
    location says): one write per image. The key derives from the content, so what an
    interrupted run left there is the same image; writing again costs less than asking
    first (a round trip on S3) and stays consistent (see object_put)."""
    object_put(location, object_key(project, prepared.sha256), [prepared.thumbnail],
               [prepared.data])


def _new_asset(project: Project, location: StorageLocation, prepared: Prepared, name: str,
               created_by: Any) -> Asset:
    return Asset(project=project, location=location,
                 object_key=object_key(project, prepared.sha256), sha256=prepared.sha256,
                 size=prepared.size, thumbnail_size=prepared.thumbnail_size,
                 width=prepared.width, height=prepared.height, format=prepared.format,
                 mode=prepared.mode, orientation=prepared.orientation,
                 original_name=sanitize_name(name), stripped_metadata=prepared.removed,
                 created_by=created_by)


def _record_imported(asset: Asset, created_by: Any, via: str) -> None:
    record(actor=created_by, action=AuditAction.IMAGE_IMPORTED, project=asset.project,
           target=f"asset:{asset.pk}",
           details={"sha256": asset.sha256, "name": asset.original_name, "via": via,
                    "stripped": asset.stripped_metadata})


def record_asset(*, project: Project, location: StorageLocation, prepared: Prepared, name: str,
                 created_by: Any, via: str) -> Ingested:
    """Asset + Task + audit event, once the objects are stored."""
    try:
        with transaction.atomic():
            asset = _new_asset(project, location, prepared, name, created_by)
            asset.save()
            task = Task.objects.create(project=project, asset=asset)
            _record_imported(asset, created_by, via)
    except IntegrityError:  # the same image arrived concurrently: keep the other one
        found = existing_asset(project, prepared.sha256)
        assert found is not None
        return found
    return Ingested(asset, task)


def record_assets(*, project: Project, location: StorageLocation,
                  batch: list[tuple[str, Prepared]], created_by: Any, via: str
                  ) -> list[Ingested]:
    """record_asset for many stored images in one transaction and a handful of queries
    (an import's database work is its bottleneck otherwise); duplicates, of earlier images
    or within the batch, answer duplicate=True. Results are in the batch's order."""
    try:
        with transaction.atomic():
            known = {a.sha256: Ingested(a, a.task, duplicate=True) for a in
                     Asset.objects.filter(project=project,
                                          sha256__in={p.sha256 for _, p in batch})
                     .select_related("task")}
            fresh = {}
            for name, prepared in batch:
                if prepared.sha256 not in known and prepared.sha256 not in fresh:
                    fresh[prepared.sha256] = _new_asset(project, location, prepared, name,
                                                        created_by)
            assets = Asset.objects.bulk_create(fresh.values())
            tasks = Task.objects.bulk_create(Task(project=project, asset=a) for a in assets)
            for asset, task in zip(assets, tasks, strict=True):
                _record_imported(asset, created_by, via)
                known[asset.sha256] = Ingested(asset, task)
    except IntegrityError:  # another writer took one of these images meanwhile: one by one
        return [record_asset(project=project, location=location, prepared=prepared, name=name,
                             created_by=created_by, via=via) for name, prepared in batch]
    results, seen = [], set()
    for _, prepared in batch:
        found = known[prepared.sha256]
        repeat = prepared.sha256 in seen
        seen.add(prepared.sha256)
        results.append(Ingested(found.asset, found.task, duplicate=found.duplicate or repeat))
    return results


def ingest(*, project: Project, location: StorageLocation, data: bytes | Prepared, name: str,
           created_by: Any, via: str) -> Ingested:
    """Take one file into the project. Raises Refused; a repeat answers duplicate=True."""
    prepared = data if isinstance(data, Prepared) else prepare(data)
    found = existing_asset(project, prepared.sha256)
    if found is not None:
        return found
    store_objects(project, location, prepared)
    return record_asset(project=project, location=location, prepared=prepared, name=name,
                        created_by=created_by, via=via)
