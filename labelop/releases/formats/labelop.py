"""LabelOp's own JSON export (labelop.json, the snapshot's manifest): shapes come back as
they were, minus their ids (the importing project gives its own). Only their structure and
numbers are checked here; the label schema is the import service's to check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from labelop.releases.formats import (
    Bad,
    FormatError,
    Item,
    load_json,
    number,
    one_of,
    sha256_of,
    size_of,
)
from labelop.releases.formats.archive import Archive

TYPES = frozenset({"bbox", "polygon", "tag", "redaction"})
BOX = ("x", "y", "w", "h")


def read(archive: Archive) -> Iterator[Item]:
    where = archive.names()[0] if not archive.is_zip else one_of(
        [n for n in archive.names() if n.rsplit("/", 1)[-1] == "labelop.json"], "labelop.json")
    doc = load_json(archive, where)
    if not (isinstance(doc, dict) and isinstance(doc.get("tasks"), list)):
        raise FormatError(f'{where} is not a LabelOp JSON export: it needs a "tasks" list.')
    file = Item(name="")  # problems that belong to no image
    for i, task in enumerate(doc["tasks"], start=1):
        if isinstance(task, dict) and isinstance(task.get("image"), str) and task["image"]:
            yield _item(task, where)
        else:
            file.fail("bad_task", f"Task #{i} in {where} names no image.")
    if file.errors:
        yield file


def _item(task: dict, where: str) -> Item:
    item = Item(name=task["image"].replace("\\", "/").rsplit("/", 1)[-1],
                sha256=sha256_of(task.get("image_sha256")),
                size=size_of(task.get("width"), task.get("height")))
    shapes = task.get("shapes")
    if not isinstance(shapes, list):
        item.fail("bad_shape", f"The shapes of {item.name!r} in {where} are not a list.")
        return item
    for i, shape in enumerate(shapes, start=1):
        try:
            item.shapes.append(_shape(shape))
        except Bad as exc:
            item.fail(exc.code, f"Shape #{i} of {item.name!r} in {where}: {exc}")
    return item


def _shape(shape: Any) -> dict:
    if not (isinstance(shape, dict) and isinstance(shape.get("type"), str)
            and shape["type"] in TYPES):
        raise Bad("bad_shape", f"its type is not one of {', '.join(sorted(TYPES))}.")
    for key in BOX:
        if shape.get(key) is not None:
            number(shape[key], key)
    if shape.get("points") is not None:
        _points(shape["points"])
    _attributes(shape.get("attributes"))
    return {k: v for k, v in shape.items() if k != "id"}


def _points(points: Any) -> None:
    if not (isinstance(points, list) and all(isinstance(p, list) and len(p) == 2
                                             for p in points)):
        raise Bad("bad_shape", "its points are not a list of [x, y] pairs.")
    for x, y in points:
        number(x, "a point")
        number(y, "a point")


def _attributes(values: Any) -> None:
    if values is None:
        return
    if not isinstance(values, dict):
        raise Bad("bad_shape", "its attributes are not an object.")
    for name, value in values.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            number(value, f"attribute {name[:40]!r}")
        elif not isinstance(value, str | bool):
            raise Bad("bad_shape", f"attribute {name[:40]!r} is not text, a number or yes/no.")
