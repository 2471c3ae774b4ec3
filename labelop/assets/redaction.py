"""Redacted renditions: the redaction regions of an annotation burned into a copy of the
image. What is inside a region cannot be recovered from the rendition: blur and pixelate keep
at most a few average colours per region (CELLS across its shorter side), fill keeps none."""

from __future__ import annotations

import hashlib
import io
import json

from PIL import Image, ImageDraw, ImageFilter

# Average colours kept across a region's shorter side. Three keeps a head a head-shaped blur;
# more would start to keep features (tests/assets/test_redaction.py measures it).
CELLS = 3


def regions_of(shapes: list[dict]) -> list[dict]:
    return [s for s in shapes if s.get("type") == "redaction"]


def regions_sha256(regions: list[dict]) -> str:
    """Identifies what a rendition burned in: same regions, same rendition."""
    keep = [{k: s.get(k) for k in ("method", "x", "y", "w", "h", "points")} for s in regions]
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def render(image: Image.Image, regions: list[dict]) -> Image.Image:
    out = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    for region in regions:
        mask = Image.new("L", out.size, 0)
        draw = ImageDraw.Draw(mask)
        if region.get("points"):
            draw.polygon([tuple(p) for p in region["points"]], fill=255)
        else:
            x, y, w, h = (float(region[k]) for k in ("x", "y", "w", "h"))
            draw.rectangle((x, y, x + w, y + h), fill=255)
        box = mask.getbbox()
        if box is None:
            continue
        out.paste(_hidden(out.crop(box), region.get("method", "blur")), box,
                  mask.crop(box))
    return out


def _hidden(crop: Image.Image, method: str) -> Image.Image:
    if method == "fill":
        return Image.new(crop.mode, crop.size, (0,) * len(crop.getbands()))
    w, h = crop.size
    cells = (max(1, round(CELLS * w / min(w, h))), max(1, round(CELLS * h / min(w, h))))
    small = crop.resize(cells, Image.Resampling.BOX)  # the average colour of each cell
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
