"""The shape format of DESIGN.md, its validation against a label schema and the image's
bounds, and the diff between two sets of shapes (history, audit, snapshots)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter

from labelop.annotations.labels import RedactionMethod, by_name
from labelop.core.errors import Invalid
from labelop.core.schemas import In

# Coordinates are JSON numbers; NaN and infinities are refused by the schema.
Coord = Annotated[float, Field(allow_inf_nan=False)]
Point = tuple[Coord, Coord]
ShapeId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                           pattern=r"^[A-Za-z0-9_.:-]+$")]
AttrValue = Annotated[str, StringConstraints(max_length=1000,
                                             pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
                      ] | Coord | bool
MAX_POINTS = 10_000


class _Shape(In):
    id: ShapeId | None = None
    attributes: dict[Annotated[str, StringConstraints(max_length=100)], AttrValue] = Field(
        default_factory=dict, max_length=50)


class BBox(_Shape):
    type: Literal["bbox"]
    label: str
    x: Coord
    y: Coord
    w: Coord
    h: Coord


class Polygon(_Shape):
    type: Literal["polygon"]
    label: str
    points: list[Point] = Field(max_length=MAX_POINTS)


class Tag(_Shape):
    type: Literal["tag"]
    label: str


class Redaction(_Shape):
    type: Literal["redaction"]
    method: RedactionMethod = "blur"
    x: Coord | None = None
    y: Coord | None = None
    w: Coord | None = None
    h: Coord | None = None
    points: list[Point] | None = Field(None, max_length=MAX_POINTS)


Shape = Annotated[BBox | Polygon | Tag | Redaction, Field(discriminator="type")]
SHAPE_LIST = TypeAdapter(list[Shape])  # validates or serializes a whole list in one call


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, index: int, shape_id: str | None, code: str, message: str) -> None:
        self.items.append({"index": index, "id": shape_id, "code": code, "message": message})


def _check_box(p: _Problems, i: int, sid: str | None, box: tuple[float, float, float, float],
               width: int, height: int) -> None:
    x, y, w, h = box
    if w <= 0 or h <= 0:
        p.add(i, sid, "empty_box", "A box needs a positive width and height.")
    elif x < 0 or y < 0 or x + w > width or y + h > height:
        p.add(i, sid, "out_of_bounds",
              f"The box ({x}, {y}, {w}, {h}) leaves the {width}x{height} image.")


def _check_points(p: _Problems, i: int, sid: str | None, points: list[tuple[float, float]],
                  width: int, height: int) -> None:
    if len(set(points)) < 3:
        p.add(i, sid, "too_few_points", "A polygon needs at least 3 distinct points.")
    elif any(not (0 <= x <= width and 0 <= y <= height) for x, y in points):
        p.add(i, sid, "out_of_bounds", f"A point of the polygon leaves the {width}x{height} image.")
    elif _area(points) == 0:
        p.add(i, sid, "empty_polygon", "The polygon's points lie on one line.")


def _area(points: list[tuple[float, float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                   in zip(points, points[1:] + points[:1], strict=True))) / 2


def _check_attributes(p: _Problems, i: int, sid: str | None, label: dict,
                      values: dict[str, Any]) -> None:
    if not values:
        return
    defined = {a["name"]: a for a in label.get("attributes", [])}
    for name, value in values.items():
        spec = defined.get(name)
        if spec is None:
            p.add(i, sid, "unknown_attribute",
                  f"Label {label['name']!r} has no attribute {name!r}.")
            continue
        kind = spec.get("type", "text")
        ok = {"text": isinstance(value, str),
              "number": isinstance(value, int | float) and not isinstance(value, bool),
              "boolean": isinstance(value, bool),
              "choice": value in spec.get("options", [])}[kind]
        if not ok:
            p.add(i, sid, "invalid_attribute",
                  f"Attribute {name!r} of {label['name']!r} must be a {kind}"
                  + (f" among {spec['options']}" if kind == "choice" else "") + ".")


def validate(shapes: list[BBox | Polygon | Tag | Redaction], *, labels: list[dict], width: int,
             height: int, max_shapes: int) -> list[dict]:
    """The shapes as stored (ids given to those without), or Invalid listing every problem."""
    if len(shapes) > max_shapes:
        raise Invalid(f"An annotation holds at most {max_shapes} shapes; this one has "
                      f"{len(shapes)}.", code="too_many_shapes", limit=max_shapes)
    schema = by_name(labels)
    p = _Problems()
    seen_ids: set[str] = set()
    seen_tags: set[str] = set()
    ids: list[str] = []
    for i, shape in enumerate(shapes):
        sid = shape.id
        if sid is not None and sid in seen_ids:
            p.add(i, sid, "duplicate_id", f"Two shapes have the id {sid!r}.")
        sid = sid or uuid.uuid4().hex[:12]
        seen_ids.add(sid)
        ids.append(sid)
        if isinstance(shape, Redaction):
            _check_redaction(p, i, sid, shape, width, height)
        else:
            label = schema.get(shape.label)
            if label is None:
                p.add(i, sid, "unknown_label", f"The project has no label {shape.label!r}.")
                continue
            if label["kind"] != shape.type:
                p.add(i, sid, "wrong_kind",
                      f"Label {shape.label!r} is drawn as {label['kind']}, not {shape.type}.")
                continue
            _check_attributes(p, i, sid, label, shape.attributes)
            if isinstance(shape, BBox):
                _check_box(p, i, sid, (shape.x, shape.y, shape.w, shape.h), width, height)
            elif isinstance(shape, Polygon):
                _check_points(p, i, sid, shape.points, width, height)
            elif shape.label in seen_tags:
                p.add(i, sid, "duplicate_tag", f"The tag {shape.label!r} is given twice.")
            else:
                seen_tags.add(shape.label)
    if p.items:
        raise Invalid(f"{len(p.items)} shape(s) do not fit the label schema or the image.",
                      code="invalid_shapes", errors=p.items)
    # One call serializes the whole list (a call per shape took most of a large import's
    # checking); the id goes first, empty attributes are left out.
    out = []
    for sid, dumped in zip(ids, SHAPE_LIST.dump_python(shapes, exclude_none=True), strict=True):
        dumped.pop("id", None)
        if not dumped.get("attributes"):
            dumped.pop("attributes", None)
        out.append({"id": sid, **dumped})
    return out


_BOX_KEYS = frozenset({"id", "type", "label", "x", "y", "w", "h"})
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # ShapeId
_NUMBERS = frozenset({int, float})  # exactly: JSON's true is no number
_EXACT = 2.0**53  # past this a number is not exactly one float: the models' way decides


def plain_boxes(shapes: list[dict], *, labels: dict[str, dict], width: int,
                height: int) -> list[dict] | None:
    """What `validate` stores for a list of plain boxes (an id, a box label, four numbers, no
    attributes) that keeps every rule, without building a model per shape: most of a large
    label import. None when any shape is not such a box or breaks a rule: the list then takes
    SHAPE_LIST and `validate`, which say why. `labels` is the schema by name."""
    out, ids = [], set()
    for shape in shapes:
        if shape.keys() != _BOX_KEYS:
            return None
        sid, name, x, y, w, h = (shape["id"], shape["label"], shape["x"], shape["y"],
                                 shape["w"], shape["h"])
        if shape["type"] != "bbox" or type(sid) is not str or type(name) is not str \
                or sid in ids or not _ID.fullmatch(sid) \
                or not {type(x), type(y), type(w), type(h)} <= _NUMBERS:
            return None
        label = labels.get(name)
        if label is None or label["kind"] != "bbox":
            return None
        try:
            x, y, w, h = float(x), float(y), float(w), float(h)
        except OverflowError:  # an integer past float range
            return None
        # Finite and exact (NaN compares false), a size, inside the image.
        if not (abs(x) < _EXACT and abs(y) < _EXACT and 0 < w < _EXACT and 0 < h < _EXACT
                and x >= 0 and y >= 0 and x + w <= width and y + h <= height):
            return None
        ids.add(sid)
        out.append({"id": sid, "type": "bbox", "label": name, "x": x, "y": y, "w": w, "h": h})
    return out


def _check_redaction(p: _Problems, i: int, sid: str, shape: Redaction, width: int,
                     height: int) -> None:
    box = (shape.x, shape.y, shape.w, shape.h)
    has_box = all(v is not None for v in box)
    if has_box == (shape.points is not None) or (not has_box and any(v is not None for v in box)):
        p.add(i, sid, "redaction_shape", "A redaction region is either x, y, w, h or points.")
    elif has_box:
        _check_box(p, i, sid, box, width, height)  # type: ignore[arg-type]
    else:
        _check_points(p, i, sid, shape.points or [], width, height)
    if shape.attributes:
        p.add(i, sid, "unknown_attribute", "Redaction regions carry no attributes.")


def label_counts(shapes: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for shape in shapes:
        if "label" in shape:
            counts[shape["label"]] = counts.get(shape["label"], 0) + 1
    return counts


def diff(before: list[dict], after: list[dict]) -> dict[str, list]:
    """Shapes added, removed and changed (matched by id) from `before` to `after`."""
    old = {s["id"]: s for s in before}
    new = {s["id"]: s for s in after}
    return {
        "added": [s for sid, s in new.items() if sid not in old],
        "removed": [s for sid, s in old.items() if sid not in new],
        "changed": [{"id": sid, "before": old[sid], "after": s} for sid, s in new.items()
                    if sid in old and old[sid] != s],
    }
