"""YOLO: one text file of objects per image, coordinates as fractions of the image, classes
by index into data.yaml's names (Ultralytics) or classes.txt / obj.names (Darknet). A label
file knows only its image's stem; images in the zip give the full names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from labelop.releases.formats import Bad, FormatError, Item, naming, number, pairs
from labelop.releases.formats.archive import Archive, MiB

NAMES_CAP = MiB  # a names file is a few kilobytes; a huge one is not a names file
YAML_NAMES = ("data.yaml", "data.yml")
TEXT_NAMES = ("classes.txt", "obj.names")
# Darknet's image lists sit beside the labels as .txt but hold paths, not objects.
LISTS = frozenset({"train.txt", "val.txt", "valid.txt", "test.txt", "labelmap.txt"})
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read(archive: Archive) -> Iterator[Item]:
    names = archive.names()
    classes = _classes(archive, names)
    images = _images(names)
    for path in _label_files(names):
        stem = _stem(path.rsplit("/", 1)[-1])
        item = Item(name=stem, stem_only=True, relative=True,
                    aliases=list(images.get(stem, [])) or naming(stem)[1])
        _fill(item, archive.read(path), path, classes)
        yield item


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1].lower()


def _classes(archive: Archive, names: list[str]) -> dict[int, str]:
    by_depth = sorted(names, key=lambda n: (n.count("/"), n))
    for path in by_depth:
        if _base(path) in YAML_NAMES:
            return _yaml_names(path, _text(archive, path))
    for path in by_depth:
        if _base(path) in TEXT_NAMES:
            lines = _text(archive, path).rstrip().splitlines()
            if not lines:
                raise FormatError(f"{path} lists no class names.")
            return {i: line.strip() for i, line in enumerate(lines)}
    raise FormatError("A YOLO upload is a zip holding data.yaml (or classes.txt or obj.names) "
                      "for the class names, and labels/*.txt; no class names were found.")


def _text(archive: Archive, path: str) -> str:
    try:
        return archive.read(path, limit=NAMES_CAP).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError(f"{path} is not UTF-8 text.") from None


def _yaml_names(path: str, text: str) -> dict[int, str]:
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise FormatError(f"{path} is not valid YAML ({str(exc)[:200]}).") from None
    names: Any = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not (isinstance(names, dict) and names and all(
            isinstance(k, int) and isinstance(v, str | int) and not isinstance(v, bool)
            for k, v in names.items())):
        raise FormatError(f"{path} needs names: a list of class names, or index: name pairs.")
    return {k: str(v) for k, v in names.items()}


def _images(names: list[str]) -> dict[str, list[str]]:
    """Image file names by stem, for items whose label file names only the stem."""
    found: dict[str, list[str]] = {}
    for path in names:
        if "images" in path.split("/")[:-1] and path.lower().endswith(IMAGE_SUFFIXES):
            name = path.rsplit("/", 1)[-1]
            found.setdefault(_stem(name), []).extend([name, *naming(name)[1]])
    return found


def _label_files(names: list[str]) -> list[str]:
    texts = [n for n in names if n.lower().endswith(".txt") and _base(n) not in TEXT_NAMES]
    return [n for n in texts if "labels" in n.split("/")[:-1]] or [
        n for n in texts if _base(n) not in LISTS]


def _fill(item: Item, data: bytes, path: str, classes: dict[int, str]) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        item.fail("bad_file", f"{path} is not UTF-8 text; none of its lines were read.")
        return
    for number_, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        try:
            item.shapes.append(_shape(tokens, classes))
        except Bad as exc:
            item.fail(exc.code, f"{path}, line {number_}: {exc}")


def _shape(tokens: list[str], classes: dict[int, str]) -> dict:
    count = len(tokens) - 1
    if count != 4 and (count < 6 or count % 2):
        raise Bad("bad_line", f"expected 'class cx cy w h' or 'class x1 y1 x2 y2 x3 y3 ...', "
                  f"found {len(tokens)} values.")
    try:
        label = classes[int(tokens[0])]
    except (ValueError, KeyError):
        raise Bad("unknown_class", f"class {tokens[0][:20]!r} is not an index of the class "
                  f"names (0 to {len(classes) - 1}).") from None
    values = [number(token, f"value {i}") for i, token in enumerate(tokens[1:], start=2)]
    if count == 4:
        cx, cy, w, h = values
        return {"type": "bbox", "label": label, "x": cx - w / 2, "y": cy - h / 2, "w": w, "h": h}
    return {"type": "polygon", "label": label, "points": pairs(values)}
