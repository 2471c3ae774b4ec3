"""Redacted renditions: the redaction regions of an annotation burned into a copy of the
image. What is inside a region cannot be recovered from the rendition: blur and pixelate keep
at most a few average colours per region (cells() across its shorter side), fill keeps none."""

from __future__ import annotations

import hashlib
import io
import json

from PIL import Image, ImageDraw, ImageFilter


def cells() -> int:
    """Average colours kept across a region's shorter side (LABELOP_REDACTION_CELLS, 1-3,
    default 3): three keeps a head a head-shaped blur; four already keeps enough structure to
    correlate above 0.6 with the face (tests/assets/test_redaction.py measures it)."""
    from django.conf import settings

    return settings.LABELOP_REDACTION_CELLS


def regions_of(shapes: list[dict]) -> list[dict]:
    return [s for s in shapes if s.get("type") == "redaction"]


def regions_sha256(regions: list[dict]) -> str:
    """Identifies what a rendition burned in: same regions, same rendition."""
    keep = [{k: s.get(k) for k in ("method", "x", "y", "w", "h", "points")} for s in regions]
    return hashlib.sha256(json.dumps([cells(), keep], sort_keys=True).encode()).hexdigest()


def render(image: Image.Image, regions: list[dict]) -> Image.Image:
    from labelop.assets.ingest import eight_bit  # 16-bit and float images: their own range

    base = eight_bit(image)
    out = base.convert("RGBA" if "A" in base.getbands() else "RGB")
    out.info = {}  # nothing of the original's metadata travels
    for region in regions:
        points = ([tuple(p) for p in region["points"]] if region.get("points") else
                  _corners(*(float(region[k]) for k in ("x", "y", "w", "h"))))
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = (max(0, int(min(xs))), max(0, int(min(ys))),
               min(out.width, int(max(xs)) + 1), min(out.height, int(max(ys)) + 1))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        mask = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)  # the region's box only
        ImageDraw.Draw(mask).polygon([(x - box[0], y - box[1]) for x, y in points], fill=255)
        out.paste(_hidden(out.crop(box), region.get("method", "blur")), box, mask)
    return out


def _corners(x: float, y: float, w: float, h: float) -> list[tuple[float, float]]:
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def _hidden(crop: Image.Image, method: str) -> Image.Image:
    if method == "fill":
        return Image.new(crop.mode, crop.size, (0,) * len(crop.getbands()))
    w, h = crop.size
    n = cells()
    grid = (max(1, round(n * w / min(w, h))), max(1, round(n * h / min(w, h))))
    small = crop.resize(grid, Image.Resampling.BOX)  # the average colour of each cell
    if method == "pixelate":
        return small.resize(crop.size, Image.Resampling.NEAREST)
    return (small.resize(crop.size, Image.Resampling.BICUBIC)
            .filter(ImageFilter.GaussianBlur(max(w, h) / 8)))


def encode(image: Image.Image, source_format: str) -> tuple[bytes, str]:
    """The rendition's bytes and format: PNG for lossless sources, else JPEG; no metadata
    of any kind is written."""
    out = io.BytesIO()
    if source_format in {"PNG", "TIFF", "BMP", "WEBP"} or image.mode == "RGBA":
        image.save(out, format="PNG")
        return out.getvalue(), "PNG"
    image.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue(), "JPEG"
