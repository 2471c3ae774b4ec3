"""The export formats, each written task by task into a zip: per-image files go straight in;
one big JSON file (COCO's instances, LabelOp's tasks) is spooled to a temporary file and
added at the end, so memory stays flat however many tasks a snapshot holds.

Where each format keeps what, as the tools that read it expect (datumaro, CVAT's dataset
framework, reads all three in the tests): COCO `annotations/instances_default.json` +
`images/default/` (one subset, "default", as CVAT names it); YOLO `data.yaml` +
`labels/*.txt` + `images/`; Pascal VOC `Annotations/*.xml` + `ImageSets/Main/default.txt`
+ `labelmap.txt` + `JPEGImages/`; LabelOp `labelop.json` (lossless: every shape type,
attributes, reviewer, revisions).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree import ElementTree as ET

CHUNK = 1 << 20


def file_name(task: dict) -> str:
    """The image's name in an export: unique (the task id first) and recognisable. Names
    were made safe at ingest; a separator here would still not make a folder of a zip."""
    name = str(task["image"]).replace("/", "_").replace("\\", "_").lstrip(".") or "image"
    return f"{task['id']}-{name}"


def stem(task: dict) -> str:
    return file_name(task).rsplit(".", 1)[0]


def box_labels(header: dict) -> list[str]:
    """The labels that become objects (boxes and polygons), in schema order."""
    return [label["name"] for label in header["labels"]
            if label.get("kind") in {"bbox", "polygon"}]


def bounds(shape: dict) -> tuple[float, float, float, float] | None:
    """x, y, w, h of a box or of a polygon's bounding box."""
    if shape["type"] == "bbox":
        return shape["x"], shape["y"], shape["w"], shape["h"]
    if shape["type"] == "polygon":
        xs, ys = [p[0] for p in shape["points"]], [p[1] for p in shape["points"]]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    return None


class Writer:
    """One format: `begin` once, `task` per task (in id order), `end` once."""

    image_dir = "images"

    def __init__(self, zf: zipfile.ZipFile, header: dict) -> None:
        self.zf, self.header = zf, header
        self.names = box_labels(header)
        self.index = {name: i for i, name in enumerate(self.names)}

    def begin(self) -> None:
        pass

    def task(self, task: dict, revisions: dict | None) -> None:
        pass

    def end(self) -> None:
        pass

    def objects(self, task: dict) -> Iterator[tuple[int, tuple[float, float, float, float]]]:
        for shape in task["shapes"]:
            box = bounds(shape)
            if box is not None and shape.get("label") in self.index:
                yield self.index[shape["label"]], box

    def deflated(self, name: str, data: str | bytes) -> None:
        self.zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)


class _Spool:
    """A JSON array written element by element to a temporary file."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by copy_to
        self.count = 0

    def add(self, text: str) -> None:
        self.file.write((b"," if self.count else b"") + text.encode())
        self.count += 1

    def copy_to(self, out: IO[bytes]) -> None:
        self.file.seek(0)
        shutil.copyfileobj(self.file, out, CHUNK)
        self.file.close()


class Coco(Writer):
    """COCO instances: one image per task, boxes and polygons by label (tags and redaction
    regions are not COCO objects). Images carry `labelop_sha256`, which label imports match
    on and COCO readers ignore."""

    image_dir = "images/default"

    def begin(self) -> None:
        self.images, self.annotations = _Spool(), _Spool()

    def task(self, task: dict, revisions: dict | None) -> None:
        self.images.add(json.dumps({"id": task["id"], "file_name": file_name(task),
                                    "width": task["width"], "height": task["height"],
                                    "labelop_sha256": task["image_sha256"]}))
        for shape in task["shapes"]:
            if shape["type"] == "bbox" and shape.get("label") in self.index:
                self.annotations.add(self._box(shape, task["id"]))
                continue
            row = coco_annotation(shape, self.index)
            if row is not None:
                row["id"] = self.annotations.count + 1
                row["image_id"] = task["id"]
                self.annotations.add(json.dumps(row))

    def _box(self, shape: dict, image: int) -> str:
        """A box's annotation, formatted directly: a quarter of a million of these is most of
        a large export, and json.dumps would take four times as long. Numbers only (repr of a
        finite int or float is JSON); the label is an index, never text."""
        x, y, w, h = shape["x"], shape["y"], shape["w"], shape["h"]
        return (f'{{"id":{self.annotations.count + 1},"image_id":{image},'
                f'"category_id":{self.index[shape["label"]] + 1},'
                f'"bbox":[{x!r},{y!r},{w!r},{h!r}],"area":{w * h!r},"iscrowd":0,'
                f'"segmentation":[[{x!r},{y!r},{x + w!r},{y!r},{x + w!r},{y + h!r},'
                f'{x!r},{y + h!r}]]}}')

    def end(self) -> None:
        info = {"description": self.header["name"], "project": self.header["project"]["name"]}
        categories = [{"id": i + 1, "name": n, "supercategory": ""}
                      for i, n in enumerate(self.names)]
        info_json, categories_json = json.dumps(info), json.dumps(categories)
        with self.zf.open("annotations/instances_default.json", "w") as out:
            out.write(f'{{"info":{info_json},"categories":{categories_json},"images":['
                      .encode())
            self.images.copy_to(out)
            out.write(b'],"annotations":[')
            self.annotations.copy_to(out)
            out.write(b"]}")


def coco_annotation(shape: dict, index: dict[str, int]) -> dict | None:
    if shape.get("label") not in index:
        return None
    category = index[shape["label"]] + 1
    if shape["type"] == "bbox":
        x, y, w, h = shape["x"], shape["y"], shape["w"], shape["h"]
        return {"category_id": category, "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0,
                "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]}
    if shape["type"] == "polygon":
        xs = [p[0] for p in shape["points"]]
        ys = [p[1] for p in shape["points"]]
        area = abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))) / 2
        return {"category_id": category, "iscrowd": 0,
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "area": area, "segmentation": [[c for p in shape["points"] for c in p]]}
    return None


class Yolo(Writer):
    """`data.yaml` with the class names, one `labels/<image stem>.txt` per image: class,
    centre x, centre y, width, height, all as fractions of the image."""

    def begin(self) -> None:
        listed = "\n".join(f"  {i}: {json.dumps(n)}" for i, n in enumerate(self.names))
        self.deflated("data.yaml", f"path: .\ntrain: images\nval: images\n"
                                   f"nc: {len(self.names)}\nnames:\n{listed}\n")

    def task(self, task: dict, revisions: dict | None) -> None:
        self.deflated(f"labels/{stem(task)}.txt", yolo_lines(task, list(self.objects(task))))


def yolo_lines(task: dict, objects: list[tuple[int, tuple[float, float, float, float]]]) -> str:
    width, height = task["width"], task["height"]
    return "".join(f"{cls} {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} "
                   f"{w / width:.6f} {h / height:.6f}\n" for cls, (x, y, w, h) in objects)


class Voc(Writer):
    """An XML file per image (boxes; a polygon as its bounding box), the image list and the
    label map that CVAT and datumaro read."""

    image_dir = "JPEGImages"

    def begin(self) -> None:
        self.deflated("labelmap.txt", "".join(f"{n}:::\n" for n in self.names))
        self.stems = _Spool()

    def task(self, task: dict, revisions: dict | None) -> None:
        self.deflated(f"Annotations/{stem(task)}.xml", voc_xml(task, self.names,
                                                              list(self.objects(task))))
        self.stems.file.write(f"{stem(task)}\n".encode())

    def end(self) -> None:
        with self.zf.open("ImageSets/Main/default.txt", "w") as out:
            self.stems.copy_to(out)


def voc_xml(task: dict, names: list[str],
            objects: list[tuple[int, tuple[float, float, float, float]]]) -> bytes:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "JPEGImages"
    ET.SubElement(root, "filename").text = file_name(task)
    size = ET.SubElement(root, "size")
    for tag, value in (("width", task["width"]), ("height", task["height"]), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for cls, (x, y, w, h) in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = names[cls]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x), ("ymin", y), ("xmax", x + w), ("ymax", y + h)):
            ET.SubElement(box, tag).text = f"{value:g}"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


class LabelOp(Writer):
    """The manifest as it was signed, each task with a summary of its revisions up to the
    snapshot: nothing is lost, and a LabelOp label import reads it back exactly."""

    def begin(self) -> None:
        self.tasks = _Spool()

    def task(self, task: dict, revisions: dict | None) -> None:
        self.tasks.add(json.dumps({**task, "revisions": revisions}, ensure_ascii=False))

    def end(self) -> None:
        head = json.dumps(self.header, ensure_ascii=False)[:-1]
        with self.zf.open("labelop.json", "w") as out:
            out.write((head + (',' if self.header else '') + '"tasks":[').encode())
            self.tasks.copy_to(out)
            out.write(b"]}")


WRITERS: dict[str, type[Writer]] = {"coco": Coco, "yolo": Yolo, "voc": Voc, "labelop": LabelOp}
FORMATS = tuple(WRITERS)


def revisions_needed(format: str) -> bool:
    return format == "labelop"


def summary(count: int, authors: list[str], first: Any, last: Any) -> dict[str, Any]:
    return {"count": count, "authors": authors,
            "first_saved_at": first.isoformat() if first else None,
            "last_saved_at": last.isoformat() if last else None}
