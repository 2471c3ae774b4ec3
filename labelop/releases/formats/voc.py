"""Pascal VOC: one XML file per image, boxes as pixel corners. Coordinates are taken as they
stand (LabelOp writes them so; no 1-based shift). XML goes through defusedxml with DTDs
forbidden: a VOC file needs none, and entities are how XXE and billion laughs get in."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from labelop.releases.formats import Bad, Item, naming, number, size_of
from labelop.releases.formats.archive import Archive

CORNERS = ("xmin", "ymin", "xmax", "ymax")


def read(archive: Archive) -> Iterator[Item]:
    for path in _xml_files(archive):
        yield _item(path, archive.read(path))


def _xml_files(archive: Archive) -> list[str]:
    if not archive.is_zip:
        return archive.names()
    found = [n for n in archive.names() if n.lower().endswith(".xml")]
    return [n for n in found if "Annotations" in n.split("/")[:-1]] or found


def _item(path: str, data: bytes) -> Item:
    base = path.rsplit("/", 1)[-1]
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        return _unread(base, f"{path} is not well-formed XML, or declares a DTD ({exc}).")
    if root.tag != "annotation":
        return _unread(base, f"{path} is not a Pascal VOC annotation (its root is "
                       f"<{str(root.tag)[:40]}>).")
    raw = _text(root, "filename") or _text(root, "path")
    name, aliases = naming(raw) if raw else ("", [])
    item = Item(name=name, aliases=aliases,
                size=size_of(_text(root, "size/width"), _text(root, "size/height")))
    if not name:  # the XML file is named after the image in every VOC tool
        item.name, item.stem_only = base.rsplit(".", 1)[0], True
    for i, obj in enumerate(root.findall("object"), start=1):
        try:
            item.shapes.append(_box(obj))
        except Bad as exc:
            item.fail(exc.code, f"{path}, object {i}: {exc}")
    return item


def _unread(base: str, message: str) -> Item:
    """An unreadable file, reported on the image its name suggests (never as "no labels")."""
    item = Item(name=base.rsplit(".", 1)[0], stem_only=True)
    item.fail("malformed_xml", message)
    return item


def _text(element: Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _box(obj: Element) -> dict:
    label = _text(obj, "name")
    if not label:
        raise Bad("bad_object", "it has no <name>.")
    box = obj.find("bndbox")
    if box is None:
        raise Bad("bad_object", f"{label!r} has no <bndbox>.")
    xmin, ymin, xmax, ymax = (number(_text(box, c), f"<{c}>") for c in CORNERS)
    return {"type": "bbox", "label": label, "x": xmin, "y": ymin, "w": xmax - xmin,
            "h": ymax - ymin}
