"""Label imports, the parsing half: each reader turns an uploaded file (COCO, YOLO, Pascal
VOC, Label Studio, LabelOp JSON) into Items, one per image, in LabelOp's shape format.
Nothing here touches the database; matching images and checking shapes against the label
schema is the import service's work."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from labelop.core.errors import Invalid

MAX_ERRORS = 100  # per item: a hostile file of a million bad lines stays a short report
# LabelOp's own exports name each image "<task id>-<original name>" (writers.file_name).
EXPORT_PREFIX = re.compile(r"^\d+-(?=.)")
HEX = frozenset("0123456789abcdef")
NUMERIC = frozenset({int, float})


class FormatError(Invalid):
    """The whole file cannot be read as the format asked for."""

    code = "unreadable_labels"


class Bad(Exception):
    """One part of a file (a line, an annotation, a region) cannot be read; the reader notes
    it on the item and goes on with the rest."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Item:
    """One image's labels as an imported file describes them.

    An Item whose `name` is "" stands for the file itself: it carries problems that belong
    to no image (say, COCO annotations of an image id the file does not list) and no shapes.
    An Item with errors was read only in part: its missing shapes do not mean "no labels".
    When `stem_only` is set, compare `name` and `aliases` without the image extension."""

    name: str
    aliases: list[str] = field(default_factory=list)
    sha256: str | None = None
    stem_only: bool = False
    size: tuple[int, int] | None = None
    relative: bool = False
    shapes: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def fail(self, code: str, message: str) -> None:
        """Note a part that could not be read; past MAX_ERRORS only that there were more."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"code": code, "message": message})
        elif len(self.errors) == MAX_ERRORS:
            self.errors.append({"code": "too_many_errors", "message":
                                f"More parts could not be read; the first {MAX_ERRORS} "
                                "are listed."})


def number(value: Any, what: str) -> float:
    """A finite number from a JSON/XML/text value, or Bad naming `what`."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise Bad("bad_number", f"{what} is {value[:40]!r}, not a number.") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Bad("bad_number", f"{what} is not a number.")
    try:
        result = float(value)
    except OverflowError:  # an integer too big for a float
        result = math.inf
    if not math.isfinite(result):
        raise Bad("bad_number", f"{what} is not a finite number.")
    return result


def finite(values: list) -> bool:
    """All plain finite numbers, checked in C: a COCO file holds millions of them."""
    try:  # type(), not isinstance: JSON's true is no number
        return set(map(type, values)) <= NUMERIC and math.isfinite(math.fsum(values))
    except (OverflowError, ValueError):  # an integer past float range; inf - inf
        return False


def numbers(values: list, what: str) -> list[float]:
    """The list when its items are finite numbers, else Bad naming the first that is not."""
    return values if finite(values) else [number(v, what) for v in values]


def pairs(values: list[float]) -> list[list[float]]:
    """[x1, y1, x2, y2, ...] as [[x1, y1], [x2, y2], ...]."""
    it = iter(values)
    return [[x, y] for x, y in zip(it, it, strict=False)]


def size_of(width: Any, height: Any) -> tuple[int, int] | None:
    """(width, height) when both are positive whole numbers, else None (unknown)."""
    dims = []
    for value in (width, height):
        try:
            dim = number(value, "size")
        except Bad:
            return None
        if dim <= 0 or dim != int(dim):
            return None
        dims.append(int(dim))
    return dims[0], dims[1]


def sha256_of(value: Any) -> str | None:
    """A SHA-256 hex digest as LabelOp stores it (lower case), or None when it is not one."""
    if isinstance(value, str) and len(value) == 64 and set(value.lower()) <= HEX:
        return value.lower()
    return None


def naming(raw: str) -> tuple[str, list[str]]:
    """The base name of a stored path, and other names the image may have: the path with
    its folders, and the original name inside a LabelOp export's "<task id>-" prefix."""
    path = "/".join(p for p in raw.replace("\\", "/").split("/") if p not in {"", ".", ".."})
    name = path.rsplit("/", 1)[-1]
    aliases = [path] if path != name else []
    match = EXPORT_PREFIX.match(name)
    if match:
        aliases.append(name[match.end():])
    return name, aliases


def load_json(archive: Archive, name: str) -> Any:
    """The member's JSON: by orjson, twice as fast as json on a 250k-annotation COCO file;
    what it refuses (NaN or Infinity, which Python's json writes; an integer past 64 bits)
    is read again by json, so that the readers name the values, item by item."""
    data = archive.read(name)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except RecursionError:
        raise FormatError(f"{name} nests its JSON too deeply to read.") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an over-long integer
        raise FormatError(f"{name} is not valid JSON ({exc}).") from None


def one_of(found: list[str], what: str) -> str:
    """The single candidate file, or FormatError saying there is none or which clash."""
    if not found:
        raise FormatError(f"The upload holds no {what}.")
    if len(found) > 1:
        listed = ", ".join(sorted(found)[:5]) + (", ..." if len(found) > 5 else "")
        raise FormatError(f"The upload holds several {what} ({listed}); upload one at a time.")
    return found[0]


# The readers import the names above from this module, so they are imported after them.
from labelop.releases.formats import coco, labelop, labelstudio, voc, yolo  # noqa: E402
from labelop.releases.formats.archive import Archive  # noqa: E402

READERS: dict[str, Callable[[Archive], Iterator[Item]]] = {
    "coco": coco.read, "yolo": yolo.read, "voc": voc.read,
    "labelstudio": labelstudio.read, "labelop": labelop.read,
}


def read(format: str, data_path: str | Path, *, name: str | None = None) -> Iterator[Item]:
    """The items of an upload (a zip or one plain file, `name` being its file name)."""
    reader = READERS.get(format)
    if reader is None:  # refused now, not at the first item
        raise Invalid(f"Label formats: {', '.join(READERS)}.", code="unknown_format")
    return _items(reader, data_path, name)


def _items(reader: Callable[[Archive], Iterator[Item]], data_path: str | Path,
           name: str | None) -> Iterator[Item]:
    with Archive(data_path, name=name) as archive:
        yield from reader(archive)
