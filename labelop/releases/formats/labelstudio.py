"""Label Studio's JSON export: a list of tasks, each with the image reference in `data` and
its annotations; the last one not cancelled is read (predictions never are). Regions are in
percent of the image, which become fractions here."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from labelop.releases.formats import Bad, FormatError, Item, load_json, number, one_of, size_of
from labelop.releases.formats.archive import Archive

# Label Studio stores an upload as "<8 hex>-<original name>" under /data/upload/<project>/.
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")
KINDS = frozenset({"rectanglelabels", "polygonlabels", "choices"})
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read(archive: Archive) -> Iterator[Item]:
    where = archive.names()[0] if not archive.is_zip else one_of(
        [n for n in archive.names() if n.lower().endswith(".json")], "JSON files")
    tasks = load_json(archive, where)
    if not isinstance(tasks, list):
        raise FormatError(f"{where} is not a Label Studio JSON export: that is a list of tasks.")
    file = Item(name="")  # problems that belong to no image
    for i, task in enumerate(tasks, start=1):
        item = _task(task, i, where, file)
        if item is not None:
            yield item
    if file.errors:
        yield file


def _task(task: Any, index: int, where: str, file: Item) -> Item | None:
    """The task's item; None for a task never labelled (not the same as labelled empty)."""
    data = task.get("data") if isinstance(task, dict) else None
    tid = f"Task {str(task.get('id', f'#{index}'))[:40]}" if isinstance(task, dict) \
        else f"Task #{index}"
    ref = _image_ref(data) if isinstance(data, dict) else None
    if ref is None:
        file.fail("no_image", f"{tid} in {where} has no image reference in its data.")
        return None
    annotation = _chosen(task.get("annotations"))
    if annotation is None:
        return None
    name, aliases = _names(ref)
    item = Item(name=name, aliases=aliases, relative=True)
    results = annotation.get("result")
    for result in results if isinstance(results, list) else []:
        _result(item, result, tid)
    return item


def _image_ref(data: dict) -> str | None:
    image = data.get("image")
    if isinstance(image, str) and not image.startswith("data:") and _names(image)[0]:
        return image
    for value in data.values():
        if isinstance(value, str) and _names(value)[0].lower().endswith(IMAGE_SUFFIXES):
            return value
    return None


def _chosen(annotations: Any) -> dict | None:
    kept = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")] \
        if isinstance(annotations, list) else []
    return kept[-1] if kept else None


def _names(ref: str) -> tuple[str, list[str]]:
    """The image's name from a reference: /data/upload/3/5d2f1a3c-cat.jpg gives cat.jpg
    (also known by its stored name), /data/local-files/?d=dir/cat.jpg gives cat.jpg (also
    dir/cat.jpg), a URL the last part of its path."""
    try:
        parts = urlsplit(ref)
        local = parse_qs(parts.query).get("d")
        path = local[0] if local else unquote(parts.path)
    except ValueError:  # an unbalanced [ in a host, say: take the reference as a path
        local, path = None, ref
    path = "/".join(p for p in path.replace("\\", "/").split("/") if p not in {"", ".", ".."})
    name = path.rsplit("/", 1)[-1]
    aliases = [path] if local and path != name else []
    match = UPLOAD_PREFIX.match(name)
    if match:
        aliases.append(name)
        name = name[match.end():]
    return name, aliases


def _result(item: Item, result: Any, tid: str) -> None:
    if not isinstance(result, dict):
        item.fail("bad_result", f"{tid}: a result is not an object.")
        return
    size = size_of(result.get("original_width"), result.get("original_height"))
    item.size = item.size or size
    try:
        item.shapes.extend(_shapes(str(result.get("type")), result.get("value"), size))
    except Bad as exc:
        item.fail(exc.code, f"{tid}, region {result.get('id')!r}: {exc}")


def _shapes(kind: str, value: Any, size: tuple[int, int] | None) -> list[dict]:
    if kind not in KINDS:
        raise Bad("unsupported_result", f"unsupported Label Studio result type {kind[:40]}.")
    if not isinstance(value, dict):
        raise Bad("bad_result", "it has no value object.")
    # One shape per label, each made afresh: none shares a list of points with another.
    if kind == "rectanglelabels":
        return [{"label": label, **_rectangle(value, size)} for label in _labels(value, kind)]
    if kind == "polygonlabels":
        return [{"type": "polygon", "label": label, "points": _polygon(value.get("points"))}
                for label in _labels(value, kind)]
    return [{"type": "tag", "label": label} for label in _labels(value, kind)]


def _labels(value: dict, key: str) -> list[str]:
    labels = value.get(key)
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        raise Bad("bad_result", f"its {key} is not a list of label names.")
    return labels


def _rectangle(value: dict, size: tuple[int, int] | None) -> dict:
    x, y, w, h = (number(value.get(k), k) / 100 for k in ("x", "y", "width", "height"))
    rotation = number(value.get("rotation", 0), "rotation") % 360
    if rotation == 0:
        return {"type": "bbox", "x": x, "y": y, "w": w, "h": h}
    if size is None:
        raise Bad("needs_size", "a rotated rectangle needs original_width and original_height "
                  "to be placed.")
    return {"type": "polygon", "points": _rotated(x, y, w, h, rotation, size)}


def _rotated(x: float, y: float, w: float, h: float, degrees: float,
             size: tuple[int, int]) -> list[list[float]]:
    """The corners of a box turned clockwise about its top-left corner, as Label Studio turns
    it: in pixels (percent of width and of height are different units), then fractions."""
    width, height = size
    x, y, w, h = x * width, y * height, w * width, h * height
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    corners = [(x, y), (x + w * cos, y + w * sin), (x + w * cos - h * sin, y + w * sin + h * cos),
               (x - h * sin, y + h * cos)]
    return [[px / width, py / height] for px, py in corners]


def _polygon(points: Any) -> list[list[float]]:
    if not (isinstance(points, list) and len(points) >= 3
            and all(isinstance(p, list) and len(p) == 2 for p in points)):
        raise Bad("bad_result", "its points are not a list of at least 3 [x, y] pairs.")
    return [[number(px, "a point") / 100, number(py, "a point") / 100] for px, py in points]
