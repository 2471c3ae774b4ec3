"""Label-import readers: LabelOp's own exports read back to the same shapes, each peer
format's representative file, every error path, and hostile uploads (bombs, corrupt zips,
XXE, random bytes) that only ever end in FormatError or items."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelop.releases import writers
from labelop.releases.formats import READERS, FormatError, Item, read
from labelop.releases.formats.archive import Archive

SHA = "ab" * 32
LABELS = [{"name": "car", "kind": "bbox"}, {"name": "road", "kind": "polygon"},
          {"name": "sunny", "kind": "tag"}]
CAR = {"id": "b1", "type": "bbox", "label": "car", "x": 10.5, "y": 20, "w": 100, "h": 50.25,
       "attributes": {"plate": "X", "speed": 3.5, "parked": False}}
ROAD = {"id": "r1", "type": "polygon", "label": "road",
        "points": [[0, 0], [100.5, 0], [50, 80.25], [10, 30]]}
SUNNY = {"id": "t1", "type": "tag", "label": "sunny"}
HIDE = {"id": "h1", "type": "redaction", "method": "fill", "x": 0, "y": 0, "w": 20, "h": 20}
MANIFEST = {
    "name": "r1", "project": {"id": 1, "name": "Streets"}, "labels": LABELS,
    "tasks": [
        {"id": 7, "image": "cat.jpg", "image_sha256": SHA, "width": 640, "height": 480,
         "shapes": [CAR, ROAD, SUNNY, HIDE]},
        {"id": 8, "image": "dog.png", "image_sha256": "cd" * 32, "width": 200, "height": 100,
         "shapes": []},
    ],
}


def _without_id(shape: dict) -> dict:
    return {k: v for k, v in shape.items() if k != "id"}


def _zip(tmp_path: Path, files: dict[str, bytes | str], name: str = "upload.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


def _plain(tmp_path: Path, data: bytes | str, name: str = "upload") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _items(format: str, path: Path) -> list[Item]:
    return list(read(format, path))


def _codes(item: Item) -> list[str]:
    return [e["code"] for e in item.errors]


def _exported(tmp_path: Path, format: str) -> Path:
    """The zip LabelOp's own export writes for MANIFEST, images aside."""
    path = tmp_path / f"{format}.zip"
    header = {k: v for k, v in MANIFEST.items() if k != "tasks"}
    with zipfile.ZipFile(path, "w") as zf:
        writer = writers.WRITERS[format](zf, header)
        writer.begin()
        for task in MANIFEST["tasks"]:
            writer.task(task, None)
        writer.end()
        zf.writestr(f"{writer.image_dir}/7-cat.jpg", b"jpeg")
    return path


# --- COCO -------------------------------------------------------------------------------


def test_coco_reads_labelops_own_export_back_to_the_same_boxes_and_polygons(tmp_path):
    cat, dog = _items("coco", _exported(tmp_path, "coco"))

    assert (cat.name, cat.aliases, cat.size, cat.relative) == ("7-cat.jpg", ["cat.jpg"],
                                                               (640, 480), False)
    assert (cat.sha256, dog.sha256) == (SHA, "cd" * 32)
    assert cat.shapes == [{"type": "bbox", "label": "car", "x": 10.5, "y": 20, "w": 100,
                           "h": 50.25},
                          {"type": "polygon", "label": "road", "points": ROAD["points"]}]
    assert cat.errors == []
    assert (dog.name, dog.shapes, dog.errors) == ("8-dog.png", [], [])


def _coco_doc(annotations: list[dict], images: list[dict] | None = None) -> str:
    return json.dumps({
        "images": images if images is not None else [
            {"id": 1, "file_name": "train/a.jpg", "width": 64, "height": 48,
             "labelop_sha256": SHA.upper()}],
        "categories": [{"id": 3, "name": "car"}, {"id": 4, "name": "road"}],
        "annotations": annotations})


def test_coco_polygons_rle_and_folders(tmp_path):
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 4, "bbox": [0, 0, 9, 9],
         "segmentation": [[0, 0, 9, 0, 9, 9], [1, 1, 2, 1], [5, 5, 6, 5, 6, 6, 5, 6.5]]},
        {"id": 2, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4],
         "segmentation": {"counts": "abc", "size": [48, 64]}, "iscrowd": 1},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4],
         "segmentation": [[4, 2, 4, 6, 1, 6, 1, 2]]},  # the box, drawn the other way round
        {"id": 4, "image_id": 1, "category_id": 3, "bbox": [5, 6, 7, 8]},
    ]
    (item,) = _items("coco", _plain(tmp_path, _coco_doc(annotations), "instances.json"))

    assert (item.name, item.aliases, item.sha256, item.size) == (
        "a.jpg", ["train/a.jpg"], SHA, (64, 48))
    assert item.shapes == [
        {"type": "polygon", "label": "road", "points": [[0, 0], [9, 0], [9, 9]]},
        {"type": "polygon", "label": "road", "points": [[5, 5], [6, 5], [6, 6], [5, 6.5]]},
        {"type": "bbox", "label": "car", "x": 1, "y": 2, "w": 3, "h": 4},
        {"type": "bbox", "label": "car", "x": 1, "y": 2, "w": 3, "h": 4},
        {"type": "bbox", "label": "car", "x": 5, "y": 6, "w": 7, "h": 8},
    ]


def test_coco_bad_annotations_are_reported_and_the_rest_read(tmp_path):
    annotations = [
        {"id": 10, "image_id": 1, "category_id": 99, "bbox": [1, 2, 3, 4]},
        {"id": 11, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3]},
        {"id": 12, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]},
        {"id": 13, "image_id": 5, "category_id": 3, "bbox": [1, 2, 3, 4]},
        {"id": 14, "image_id": 1, "category_id": [3], "bbox": [1, 2, 3, 4]},
        {"id": 15, "image_id": 1, "category_id": 3, "segmentation": [[1, 2, 3]]},
        "not an annotation",
    ]
    upload = _plain(tmp_path, _coco_doc(annotations))
    text = upload.read_text().replace('"bbox": [1, 2, 3, 4]}, {"id": 13',
                                      '"bbox": [1, 2, 3, 4]}, {"id": 16, "image_id": 1, '
                                      '"category_id": 3, "bbox": [NaN, 2, 3, 4]}, {"id": 13')
    upload.write_text(text)

    item, file = _items("coco", upload)

    assert item.shapes == [{"type": "bbox", "label": "car", "x": 1, "y": 2, "w": 3, "h": 4}]
    assert _codes(item) == ["unknown_category", "bad_annotation", "bad_number",
                            "unknown_category", "bad_annotation"]
    assert item.errors[0]["message"] == (
        "Annotation 10 in upload: its category id 99 is not among the file's categories.")
    assert "Annotation 16" in item.errors[2]["message"]
    assert (file.name, file.shapes) == ("", [])
    assert _codes(file) == ["bad_annotation", "unknown_image"]
    assert file.errors[1]["message"] == ("1 annotation(s) in upload (ids 13) are of image id 5, "
                                         "which the file does not list.")


def test_coco_duplicate_image_ids_and_nameless_images_are_reported(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}, {"id": 2}]
    items = _items("coco", _plain(tmp_path, _coco_doc([], images)))

    assert [i.name for i in items] == ["a.jpg", ""]
    assert _codes(items[1]) == ["duplicate_image", "bad_image"]


@pytest.mark.parametrize(("files", "message"), [
    ({"annotations/instances_train.json": "{}", "annotations/instances_val.json": "{}"},
     "The upload holds several COCO annotation files (annotations/*.json) "
     "(annotations/instances_train.json, "
     "annotations/instances_val.json); upload one at a time."),
    ({"images/a.jpg": b"x"}, "The upload holds no COCO annotation files (annotations/*.json)."),
    ({"annotations/instances_default.json": "[1, 2]"},
     "annotations/instances_default.json is not COCO instances "
     'JSON: it needs an object with "images" and "annotations" lists.'),
    ({"annotations/instances_default.json": "{\"images\": ["},
     "annotations/instances_default.json is not valid JSON"),
])
def test_coco_unreadable_uploads_say_why(tmp_path, files, message):
    with pytest.raises(FormatError, match="^" + re.escape(message)) as caught:
        _items("coco", _zip(tmp_path, files))
    assert caught.value.code == "unreadable_labels"
    assert caught.value.status == 422


def test_coco_with_250k_annotations_parses_quickly(tmp_path):
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100}
              for i in range(5000)]
    annotations = [{"id": n, "image_id": n % 5000, "category_id": 3, "bbox": [1, 2, 3, 4],
                    "segmentation": [[1, 2, 4, 2, 4, 6, 1, 6]]} for n in range(250_000)]
    upload = _plain(tmp_path, _coco_doc(annotations, images))

    started = time.perf_counter()
    json.loads(upload.read_bytes())
    parsing = time.perf_counter() - started  # the floor: what the standard library takes
    started = time.perf_counter()
    items = _items("coco", upload)
    elapsed = time.perf_counter() - started

    assert sum(len(i.shapes) for i in items) == 250_000
    # Against the floor, not the clock: other work on a shared machine slows both alike.
    # Quiet, the whole read takes about 1 s on the 2-core CI machine.
    assert elapsed < 3 * parsing + 0.5, (elapsed, parsing)


# --- YOLO -------------------------------------------------------------------------------


def test_yolo_reads_labelops_own_export_back_within_a_millionth(tmp_path):
    cat, dog = _items("yolo", _exported(tmp_path, "yolo"))

    assert (cat.name, cat.stem_only, cat.relative) == ("7-cat", True, True)
    assert cat.aliases == ["7-cat.jpg", "cat.jpg"]
    assert (dog.name, dog.aliases, dog.shapes) == ("8-dog", ["dog"], [])
    road = (0, 0, 100.5, 80.25)  # YOLO holds a polygon as its bounding box
    expected = [("car", (10.5, 20, 100, 50.25)), ("road", road)]
    assert [s["label"] for s in cat.shapes] == ["car", "road"]
    for shape, (_, (x, y, w, h)) in zip(cat.shapes, expected, strict=True):
        assert shape["type"] == "bbox"
        got = (shape["x"], shape["y"], shape["w"], shape["h"])
        assert got == pytest.approx((x / 640, y / 480, w / 640, h / 480), abs=1e-6)


def test_yolo_polygons_bad_lines_and_unknown_classes(tmp_path):
    lines = ("0 0.5 0.5 0.2 0.4\n"
             "1 0.1 0.1 0.9 0.1 0.5 0.8\n"
             "\n# a comment\n"
             "0 0.5 0.5\n"
             "7 0.5 0.5 0.2 0.2\n"
             "0 nan 0.5 0.2 0.2\n"
             "car 0.5 0.5 0.2 0.2\n"
             "0 0.5 0.5 0.2 inf\n"
             "1 0.1 0.1 0.9 0.1 0.5\n"
             "0 0.5 0.5 x 0.2\n")
    upload = _zip(tmp_path, {"obj.names": "car\nroad\n\n", "train/a.txt": lines,
                             "train.txt": "images/a.jpg\n"})

    (item,) = _items("yolo", upload)

    assert item.shapes[0] == {"type": "bbox", "label": "car", "x": pytest.approx(0.4),
                              "y": pytest.approx(0.3), "w": 0.2, "h": 0.4}
    assert item.shapes[1] == {"type": "polygon", "label": "road",
                              "points": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.8]]}
    assert len(item.shapes) == 2
    assert _codes(item) == ["bad_line", "unknown_class", "bad_number", "unknown_class",
                            "bad_number", "bad_line", "bad_number"]
    assert item.errors[0]["message"] == (
        "train/a.txt, line 5: expected 'class cx cy w h' or 'class x1 y1 x2 y2 x3 y3 ...', "
        "found 3 values.")
    assert item.errors[1]["message"] == (
        "train/a.txt, line 6: class '7' is not an index of the class names (0 to 1).")
    assert item.errors[6]["message"] == "train/a.txt, line 11: value 4 is 'x', not a number."


def test_yolo_names_as_a_list_and_a_file_not_utf8(tmp_path):
    upload = _zip(tmp_path, {"dataset/data.yaml": "names: [car, road]\n",
                             "dataset/labels/val/b.txt": "1 0.5 0.5 0.1 0.1\n",
                             "dataset/labels/val/c.txt": b"\xff\xfe0 0.5\n"})

    b, c = _items("yolo", upload)

    assert b.shapes[0]["label"] == "road"
    assert (c.name, c.shapes, _codes(c)) == ("c", [], ["bad_file"])


@pytest.mark.parametrize(("files", "message"), [
    ({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}, "A YOLO upload is a zip holding data.yaml"),
    ({"data.yaml": "names: {0: [1, 2]}\n"}, "data.yaml needs names"),
    ({"data.yaml": "names: [car\n"}, "data.yaml is not valid YAML"),
    ({"data.yaml": "path: .\n"}, "data.yaml needs names"),
    ({"classes.txt": "\n\n"}, "classes.txt lists no class names."),
])
def test_yolo_without_usable_class_names_is_unreadable(tmp_path, files, message):
    with pytest.raises(FormatError, match="^" + message):
        _items("yolo", _zip(tmp_path, files))


# --- Pascal VOC -------------------------------------------------------------------------


def test_voc_reads_labelops_own_export_back_exactly(tmp_path):
    cat, dog = _items("voc", _exported(tmp_path, "voc"))

    assert (cat.name, cat.aliases, cat.size, cat.relative) == ("7-cat.jpg", ["cat.jpg"],
                                                               (640, 480), False)
    assert cat.shapes == [
        {"type": "bbox", "label": "car", "x": 10.5, "y": 20, "w": 100, "h": 50.25},
        {"type": "bbox", "label": "road", "x": 0, "y": 0, "w": 100.5, "h": 80.25}]
    assert (dog.name, dog.shapes, dog.errors) == ("8-dog.png", [], [])


VOC = """<annotation><folder>x</folder><filename>{name}</filename>
<size><width>{width}</width><height>30</height><depth>3</depth></size>{objects}</annotation>"""
OBJECT = ("<object><name>{label}</name><bndbox><xmin>{xmin}</xmin><ymin>2</ymin>"
          "<xmax>12</xmax><ymax>22</ymax></bndbox></object>")


def test_voc_bad_objects_and_malformed_files_are_named(tmp_path):
    good = VOC.format(name="imgs/a.jpg", width=0, objects="".join([
        OBJECT.format(label="car", xmin=1), OBJECT.format(label="car", xmin="one"),
        OBJECT.format(label="", xmin=1), "<object><name>car</name></object>",
        OBJECT.format(label="car", xmin="-inf")]))
    upload = _zip(tmp_path, {"Annotations/a.xml": good, "Annotations/b.xml": "<annotation><",
                             "Annotations/c.xml": "<other/>"})

    a, b, c = _items("voc", upload)

    assert (a.name, a.aliases, a.size) == ("a.jpg", ["imgs/a.jpg"], None)
    assert a.shapes == [{"type": "bbox", "label": "car", "x": 1, "y": 2, "w": 11, "h": 20}]
    assert _codes(a) == ["bad_number", "bad_object", "bad_object", "bad_number"]
    assert a.errors[0]["message"] == "Annotations/a.xml, object 2: <xmin> is 'one', not a number."
    assert (b.name, b.stem_only, b.shapes, _codes(b)) == ("b", True, [], ["malformed_xml"])
    assert b.errors[0]["message"].startswith("Annotations/b.xml is not well-formed XML")
    assert _codes(c) == ["malformed_xml"]
    assert c.errors[0]["message"] == ("Annotations/c.xml is not a Pascal VOC annotation "
                                      "(its root is <other>).")


def test_voc_single_file_without_filename_falls_back_to_its_own_stem(tmp_path):
    xml = "<annotation>" + OBJECT.format(label="car", xmin=1) + "</annotation>"
    (item,) = list(read("voc", _plain(tmp_path, xml, "tmp123"), name="street.xml"))

    assert (item.name, item.stem_only, len(item.shapes)) == ("street", True, 1)


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE annotation [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
    '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">'
    '<!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>',
    '<!DOCTYPE annotation SYSTEM "http://127.0.0.1:9/voc.dtd">',
])
def test_voc_refuses_entities_and_dtds_xxe_and_billion_laughs(tmp_path, doctype):
    entity = "&xxe;" if "xxe" in doctype else "&i;" if "ENTITY i" in doctype else "a.jpg"
    xml = f'<?xml version="1.0"?>{doctype}<annotation><filename>{entity}</filename></annotation>'

    started = time.perf_counter()
    (item,) = _items("voc", _zip(tmp_path, {"Annotations/evil.xml": xml}))

    assert time.perf_counter() - started < 1
    assert (item.name, item.shapes, _codes(item)) == ("evil", [], ["malformed_xml"])
    assert "root:" not in item.errors[0]["message"]


# --- Label Studio -----------------------------------------------------------------------


def _region(kind: str, value: dict, **extra: object) -> dict:
    return {"id": f"r-{kind}", "type": kind, "from_name": "label", "to_name": "image",
            "original_width": 200, "original_height": 100, "value": value, **extra}


LS_TASKS = [
    {"id": 1, "data": {"image": "/data/upload/3/5d2f1a3c-cat.jpg"},
     "annotations": [
         {"id": 10, "was_cancelled": False, "result": [
             _region("rectanglelabels", {"x": 1, "y": 1, "width": 1, "height": 1,
                                         "rectanglelabels": ["old"]})]},
         {"id": 11, "was_cancelled": False, "result": [
             _region("rectanglelabels", {"x": 10, "y": 20, "width": 30, "height": 40,
                                         "rotation": 0, "rectanglelabels": ["car", "van"]}),
             _region("polygonlabels", {"points": [[10, 10], [50, 10], [30, 60]],
                                       "polygonlabels": ["road"]}),
             _region("choices", {"choices": ["sunny", "dry"]}),
             _region("keypointlabels", {"x": 5, "y": 5, "keypointlabels": ["eye"]}),
             _region("rectanglelabels", {"x": 10, "y": 20, "width": 20, "height": 10,
                                         "rotation": 90, "rectanglelabels": ["car"]}),
         ]},
         {"id": 12, "was_cancelled": True, "result": []}],
     "predictions": [{"result": [_region("choices", {"choices": ["predicted"]})]}]},
    {"id": 2, "data": {"url": "x", "photo": "/data/local-files/?d=shots%2Fday1/dog.png"},
     "annotations": [{"id": 20, "result": []}]},
    {"id": 3, "data": {"image": "https://example.org/s3/bird.jpg?X-Amz=1"},
     "annotations": [{"id": 30, "was_cancelled": True, "result": []}]},
    {"id": 4, "data": {"text": "no image here"}, "annotations": []},
]


def test_label_studio_export_reads_the_last_kept_annotation(tmp_path):
    cat, dog, file = _items("labelstudio", _plain(tmp_path, json.dumps(LS_TASKS)))

    assert (cat.name, cat.aliases, cat.size, cat.relative) == (
        "cat.jpg", ["5d2f1a3c-cat.jpg"], (200, 100), True)
    assert cat.shapes[:5] == [
        {"type": "bbox", "label": "car", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
        {"type": "bbox", "label": "van", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
        {"type": "polygon", "label": "road", "points": [[0.1, 0.1], [0.5, 0.1], [0.3, 0.6]]},
        {"type": "tag", "label": "sunny"}, {"type": "tag", "label": "dry"}]
    assert cat.errors == [{"code": "unsupported_result", "message":
                           "Task 1, region 'r-keypointlabels': unsupported Label Studio result "
                           "type keypointlabels."}]
    assert (dog.name, dog.aliases, dog.shapes) == ("dog.png", ["shots/day1/dog.png"], [])
    assert _codes(file) == ["no_image"]  # task 3 was never labelled: no item at all


def test_label_studio_rotated_rectangle_turns_about_its_top_left_corner_in_pixels(tmp_path):
    (cat, *_) = _items("labelstudio", _plain(tmp_path, json.dumps(LS_TASKS)))

    rotated = cat.shapes[5]
    # 200x100 image: the box is at (20, 20) px, 40 px wide, 10 px high; turned 90 degrees
    # clockwise its far corner lands at (10, 60) px.
    assert (rotated["type"], rotated["label"]) == ("polygon", "car")
    corners = [(20, 20), (20, 60), (10, 60), (10, 20)]
    assert rotated["points"] == [[pytest.approx(x / 200), pytest.approx(y / 100)]
                                 for x, y in corners]


def test_label_studio_bad_regions_are_reported(tmp_path):
    results = [
        _region("rectanglelabels", {"x": "NaN", "y": 0, "width": 1, "height": 1,
                                    "rectanglelabels": ["car"]}),
        _region("rectanglelabels", {"x": 1, "y": 0, "width": 1, "height": 1,
                                    "rectanglelabels": []}),
        {"type": "rectanglelabels", "value": {"x": 1, "y": 1, "width": 1, "height": 1,
                                              "rotation": 30, "rectanglelabels": ["car"]}},
        _region("polygonlabels", {"points": [[1, 1], [2, 2]], "polygonlabels": ["road"]}),
        "junk",
    ]
    tasks = [{"id": 5, "data": {"image": "a.jpg"}, "annotations": [{"result": results}]}]

    (item,) = _items("labelstudio", _zip(tmp_path, {"export.json": json.dumps(tasks)}))

    assert item.shapes == []
    assert _codes(item) == ["bad_number", "bad_result", "needs_size", "bad_result", "bad_result"]


def test_label_studio_not_a_list_is_unreadable(tmp_path):
    with pytest.raises(FormatError, match="is not a Label Studio JSON export"):
        _items("labelstudio", _plain(tmp_path, '{"tasks": []}'))


# --- LabelOp JSON -----------------------------------------------------------------------


def test_labelop_json_export_gives_back_every_shape_minus_its_id(tmp_path):
    cat, dog = _items("labelop", _exported(tmp_path, "labelop"))

    assert (cat.name, cat.sha256, cat.size) == ("cat.jpg", SHA, (640, 480))
    assert cat.shapes == [_without_id(s) for s in (CAR, ROAD, SUNNY, HIDE)]
    assert (dog.name, dog.sha256, dog.shapes, dog.errors) == ("dog.png", "cd" * 32, [], [])


def test_labelop_json_bad_shapes_are_reported(tmp_path):
    shapes = [{"type": "bbox", "label": "car", "x": 1e999, "y": 0, "w": 1, "h": 1},
              {"type": "circle"}, {"type": "polygon", "label": "road", "points": [[1, 2, 3]]},
              {"type": "tag", "label": "sunny", "attributes": {"a": [1]}}, SUNNY]
    doc = {"tasks": [{"image": "a.jpg", "shapes": shapes}, {"image": ""}, "junk"]}

    item, file = _items("labelop", _plain(tmp_path, json.dumps(doc).replace("1e999", "1e999")))

    assert item.shapes == [_without_id(SUNNY)]
    assert _codes(item) == ["bad_number", "bad_shape", "bad_shape", "bad_shape"]
    assert item.errors[0]["message"] == "Shape #1 of 'a.jpg' in upload: x is not a finite number."
    assert _codes(file) == ["bad_task", "bad_task"]


# --- the archive --------------------------------------------------------------------------


def test_corrupt_zip_is_unreadable(tmp_path):
    with pytest.raises(FormatError, match="looks like a zip but cannot be opened"):
        _items("coco", _plain(tmp_path, b"PK\x03\x04" + b"\x00" * 100))


def test_member_over_the_cap_is_refused_by_its_header(tmp_path):
    upload = _zip(tmp_path, {"labels/a.txt": b"0" * 10_000})
    with Archive(upload, member_cap=1000) as archive, \
            pytest.raises(FormatError, match=r"^labels/a.txt unpacks to more than 1000 bytes"):
        archive.read("labels/a.txt")


def _patch_sizes(path: Path, declared: int) -> None:
    """Make the zip's headers lie: each member declares `declared` bytes, unpacked."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at != -1:
            struct.pack_into("<I", data, at + offset, declared)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def test_bomb_whose_header_lies_about_its_size_is_refused(tmp_path):
    upload = _zip(tmp_path, {"labels/a.txt": b"0" * 1_000_000})
    _patch_sizes(upload, 100)

    with Archive(upload, member_cap=1000) as archive, pytest.raises(FormatError):
        archive.read("labels/a.txt")


def test_total_cap_counts_the_bytes_read(tmp_path):
    upload = _zip(tmp_path, {f"labels/{i}.txt": b"0" * 600 for i in range(3)})
    with Archive(upload, member_cap=1000, total_cap=1500) as archive:
        archive.read("labels/0.txt")
        archive.read("labels/1.txt")
        with pytest.raises(FormatError, match="unpacks to more than 0 MiB"):
            archive.read("labels/2.txt")


def test_plain_file_over_the_cap_is_refused(tmp_path):
    with Archive(_plain(tmp_path, b"{}" * 1000), member_cap=100) as archive, \
            pytest.raises(FormatError, match=r"^upload unpacks to more than 100 bytes"):
        archive.read("upload")


def test_too_many_members_are_refused(tmp_path):
    upload = _zip(tmp_path, {f"{i}.txt": "" for i in range(3)})
    with pytest.raises(FormatError, match="holds 3 files; at most 2"):
        Archive(upload, max_members=2)


def test_encrypted_member_is_refused(tmp_path):
    upload = _zip(tmp_path, {"labelop.json": "{}"})
    data = bytearray(upload.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1
    upload.write_bytes(bytes(data))

    with pytest.raises(FormatError, match=r"^labelop\.json is encrypted"):
        _items("labelop", upload)


def test_hostile_member_names_are_listed_as_safe_relative_paths_and_never_written(tmp_path):
    upload = _zip(tmp_path, {"../../evil/labels/a.txt": "0 0.5 0.5 0.1 0.1\n",
                             "/abs/data.yaml": "names: [car]\n", "C:\\win\\b.txt": "",
                             "__MACOSX/labels/._a.txt": b"\x00\x05", "dir/": ""})
    before = sorted(tmp_path.rglob("*"))

    with Archive(upload) as archive:
        assert archive.names() == ["evil/labels/a.txt", "abs/data.yaml", "win/b.txt"]
    items = _items("yolo", upload)

    assert [(i.name, len(i.shapes)) for i in items] == [("a", 1)]
    assert sorted(tmp_path.rglob("*")) == before


def test_unknown_format_is_refused_at_once(tmp_path):
    with pytest.raises(Exception, match="Label formats: coco, yolo, voc, labelstudio, labelop"):
        read("cvat", tmp_path / "missing")


# --- random input only ever ends in FormatError or items ----------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=30)
COCO_LIKE = st.fixed_dictionaries({
    "images": st.lists(st.fixed_dictionaries({"id": st.integers(0, 3) | JSON,
                                              "file_name": st.text(max_size=10) | JSON,
                                              "width": JSON, "labelop_sha256": JSON}), max_size=4),
    "categories": st.lists(st.fixed_dictionaries({"id": st.integers(0, 3) | JSON,
                                                  "name": st.text(max_size=5)}), max_size=3),
    "annotations": st.lists(st.fixed_dictionaries({
        "id": JSON, "image_id": st.integers(0, 3) | JSON, "category_id": st.integers(0, 3) | JSON,
        "bbox": st.lists(st.floats() | st.integers(), max_size=5) | JSON,
        "segmentation": st.lists(st.lists(st.floats() | st.integers(), max_size=9), max_size=3)
        | JSON}), max_size=6)})
LS_LIKE = st.lists(st.fixed_dictionaries({
    "id": JSON, "data": st.fixed_dictionaries({"image": st.text(max_size=30) | JSON}) | JSON,
    "annotations": st.lists(st.fixed_dictionaries({
        "was_cancelled": st.booleans(),
        "result": st.lists(st.fixed_dictionaries({
            "type": st.sampled_from(["rectanglelabels", "polygonlabels", "choices", "labels"]),
            "original_width": JSON, "original_height": JSON,
            "value": st.dictionaries(st.sampled_from(
                ["x", "y", "width", "height", "rotation", "points", "rectanglelabels",
                 "polygonlabels", "choices"]), JSON)}) | JSON, max_size=4)}), max_size=2)}),
    max_size=3)
LABELOP_LIKE = st.fixed_dictionaries({"tasks": st.lists(st.fixed_dictionaries({
    "image": st.text(max_size=10) | JSON, "image_sha256": JSON, "width": JSON,
    "shapes": st.lists(st.dictionaries(st.sampled_from(
        ["type", "label", "x", "y", "w", "h", "points", "attributes", "id"]), JSON)
        | st.fixed_dictionaries({"type": st.sampled_from(["bbox", "polygon", "tag"]),
                                 "points": JSON, "x": JSON, "attributes": JSON}), max_size=4)
    | JSON}), max_size=3)})
TEXT_MEMBERS = st.dictionaries(
    st.sampled_from(["data.yaml", "classes.txt", "labels/a.txt", "labels/b.txt", "a.xml",
                     "Annotations/b.xml", "labelop.json", "annotations/instances_default.json",
                     "images/a.jpg", "../x.txt"]),
    st.binary(max_size=200) | st.text(alphabet="0123456789 .-\nnaefix<>/=\"&;!", max_size=200),
    max_size=6)


def _only_items_or_format_error(format: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        try:
            items = list(read(format, path))
        except FormatError as exc:
            refusal = exc.detail
        else:
            refusal = None
        if refusal is not None:
            assert refusal.strip()
            return
        assert all(isinstance(i, Item) for i in items)
        for item in items:
            for shape in item.shapes:
                for key in ("x", "y", "w", "h"):
                    assert shape.get(key) is None or math.isfinite(shape[key])


def _zipped(members: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(format=st.sampled_from(sorted(READERS)), data=st.binary(max_size=300))
def test_random_bytes_only_ever_give_items_or_format_error(format, data):
    _only_items_or_format_error(format, data)


@FUZZ
@given(format=st.sampled_from(sorted(READERS)),
       doc=JSON | COCO_LIKE | LS_LIKE | LABELOP_LIKE)
def test_random_json_only_ever_gives_items_or_format_error(format, doc):
    _only_items_or_format_error(format, json.dumps(doc).encode())


@FUZZ
@given(format=st.sampled_from(sorted(READERS)), members=TEXT_MEMBERS)
def test_random_zips_only_ever_give_items_or_format_error(format, members):
    _only_items_or_format_error(format, _zipped(members))
