"""COCO instances JSON: images, categories and annotations, grouped by image in one pass.
A polygon that is only its box drawn as four corners (as LabelOp and many tools write every
box) comes back as a box; RLE masks, which LabelOp cannot draw, fall back to their box."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from labelop.releases.formats import (
    Bad,
    FormatError,
    Item,
    finite,
    load_json,
    naming,
    numbers,
    one_of,
    pairs,
    sha256_of,
    size_of,
)
from labelop.releases.formats.archive import Archive


def read(archive: Archive) -> Iterator[Item]:
    where = _member(archive)
    doc = load_json(archive, where)
    if not (isinstance(doc, dict) and isinstance(doc.get("images"), list)
            and isinstance(doc.get("annotations"), list)):
        raise FormatError(f"{where} is not COCO instances JSON: it needs an object with "
                          '"images" and "annotations" lists.')
    categories = _categories(doc.get("categories"))
    file = Item(name="")  # problems that belong to no image
    # Taken out of the document: each image's annotations are freed once read (a large
    # file's annotations are most of the memory a read takes).
    by_image = _by_image(doc.pop("annotations"), where, file)
    seen: set[int | str] = set()
    for image in doc["images"]:
        item = _item(image, where, file, seen)
        if item is None:
            continue
        for annotation in by_image.pop(image["id"], []):
            _add(item, annotation, categories, where)
        yield item
    for image_id, orphans in by_image.items():
        ids = ", ".join(str(a.get("id"))[:20] for a in orphans[:5])
        file.fail("unknown_image", f"{len(orphans)} annotation(s) in {where} (ids {ids}"
                  f"{', ...' if len(orphans) > 5 else ''}) are of image id {image_id!r}, "
                  "which the file does not list.")
    if file.errors:
        yield file


def _member(archive: Archive) -> str:
    if not archive.is_zip:
        return archive.names()[0]
    found = [n for n in archive.names() if n.lower().endswith(".json")]
    found = [n for n in found if "annotations" in n.split("/")[:-1]] or found
    instances = [n for n in found if n.rsplit("/", 1)[-1].startswith("instances")]
    return one_of(instances or found, "COCO annotation files (annotations/*.json)")


_KEYS = (int, str)  # exactly these types: JSON's true is no id


def _key(value: Any) -> int | str | None:
    """An id usable as a dict key: JSON ids are whole numbers or strings."""
    return value if type(value) in _KEYS else None


def _categories(rows: Any) -> dict[int | str, str]:
    found: dict[int | str, str] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and _key(row.get("id")) is not None \
                and isinstance(row.get("name"), str):
            found.setdefault(row["id"], row["name"])
    return found


def _by_image(annotations: list, where: str, file: Item) -> dict[int | str, list[dict]]:
    grouped: dict[int | str, list[dict]] = {}
    for i, annotation in enumerate(annotations):
        key = _key(annotation.get("image_id")) if type(annotation) is dict else None
        if key is None:
            file.fail("bad_annotation", f"Annotation #{i + 1} in {where} has no image_id.")
        else:
            grouped.setdefault(key, []).append(annotation)
    return grouped


def _item(image: Any, where: str, file: Item, seen: set[int | str]) -> Item | None:
    if not (isinstance(image, dict) and _key(image.get("id")) is not None
            and isinstance(image.get("file_name"), str) and image["file_name"].strip("/\\")):
        file.fail("bad_image", f"An image in {where} lacks an id or a file_name: "
                  f"{str(image)[:80]}")
        return None
    if image["id"] in seen:  # which of the two the annotations belong to is unknowable
        file.fail("duplicate_image", f"Image id {image['id']!r} is listed twice in {where}; "
                  f"the second, {image['file_name'][:80]!r}, is skipped.")
        return None
    seen.add(image["id"])
    name, aliases = naming(image["file_name"])
    return Item(name=name, aliases=aliases, sha256=sha256_of(image.get("labelop_sha256")),
                size=size_of(image.get("width"), image.get("height")))


def _add(item: Item, annotation: dict, categories: dict[int | str, str], where: str) -> None:
    try:
        item.shapes.extend(_shapes(annotation, categories))
    except Bad as exc:
        item.fail(exc.code, f"Annotation {annotation.get('id')!r} in {where}: {exc}")


def _shapes(annotation: dict, categories: dict[int | str, str]) -> list[dict]:
    category = _key(annotation.get("category_id"))
    label = categories.get(category) if category is not None else None
    box, segmentation = annotation.get("bbox"), annotation.get("segmentation")
    # The usual box, first and in few steps; anything else takes the careful way below.
    if label is not None and type(box) is list and len(box) == 4 and finite(box):
        x, y, w, h = box
        if segmentation is None or type(segmentation) is dict \
                or segmentation == [[x, y, x + w, y, x + w, y + h, x, y + h]]:
            return [{"type": "bbox", "label": label, "x": x, "y": y, "w": w, "h": h}]
    return _careful(annotation, label)


def _careful(annotation: dict, label: str | None) -> list[dict]:
    if label is None:
        raise Bad("unknown_category", f"its category id {annotation.get('category_id')!r} "
                  "is not among the file's categories.")
    box = _box(annotation.get("bbox"))
    rings = _rings(annotation.get("segmentation"))
    if rings and not (box is not None and len(rings) == 1 and _is_box(rings[0], box)):
        return [{"type": "polygon", "label": label, "points": pairs(ring)} for ring in rings]
    if box is None:
        raise Bad("bad_annotation", "it has neither a polygon nor a bbox [x, y, w, h].")
    x, y, w, h = box
    return [{"type": "bbox", "label": label, "x": x, "y": y, "w": w, "h": h}]


def _box(value: Any) -> list[float] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 4):
        raise Bad("bad_annotation", "its bbox is not [x, y, w, h].")
    return numbers(value, "a bbox value")


def _rings(value: Any) -> list[list[float]]:
    """The polygons of at least 3 points, flat as COCO writes them; [] for RLE masks or no
    segmentation."""
    if not (isinstance(value, list) and value and all(isinstance(r, list) for r in value)):
        return []
    rings = []
    for ring in value:
        if len(ring) % 2:
            raise Bad("bad_annotation", "a polygon of its segmentation has an odd count of "
                      "numbers.")
        if len(ring) >= 6:
            rings.append(numbers(ring, "a polygon coordinate"))
    return rings


def _is_box(ring: list[float], box: list[float]) -> bool:
    """The ring is the box's four corners going round (LabelOp's and CVAT's order first:
    one comparison decides most of a big file)."""
    x, y, w, h = box
    if len(ring) != 8:
        return False
    if ring == [x, y, x + w, y, x + w, y + h, x, y + h]:
        return True
    if sorted(ring[0::2]) != sorted([x, x, x + w, x + w]) \
            or sorted(ring[1::2]) != sorted([y, y, y + h, y + h]):
        return False
    points = pairs(ring)
    corners = [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
    return all(c in points for c in corners) and all(
        a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:] + points[:1],
                                                     strict=True))
