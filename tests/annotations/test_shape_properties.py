"""The shape validator against generated input: whatever it is given, it either stores
shapes that keep every rule (inside the image, known labels of the right kind, unique ids,
polygons of 3 or more distinct points that are not a line) or refuses with reasons; it
never fails otherwise."""

from __future__ import annotations

import json
import math

from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from labelop.annotations import shapes as shape_rules
from labelop.core.errors import Invalid
from tests.labeling import LABELS

WIDTH, HEIGHT = 64, 48
numbers = st.one_of(st.integers(-10, 100), st.floats(allow_nan=True, allow_infinity=True),
                    st.floats(-5, 70), st.text(max_size=3), st.none(), st.booleans())
labels = st.sampled_from([label["name"] for label in LABELS] + ["", "nope", "<b>"])
point = st.lists(numbers, min_size=0, max_size=3)
shape = st.fixed_dictionaries({"type": st.sampled_from(["bbox", "polygon", "tag", "redaction",
                                                        "circle", 7])}, optional={
    "id": st.one_of(st.text(max_size=8), st.integers()),
    "label": labels, "x": numbers, "y": numbers, "w": numbers, "h": numbers,
    "points": st.lists(point, max_size=6), "method": st.sampled_from(["blur", "fill", "x"]),
    "attributes": st.dictionaries(st.text(max_size=5), numbers, max_size=2)})


# Shapes near the rules, so that many lists pass and the stored ones are checked too.
coord, size = st.floats(-0.25, 24), st.floats(0, 24)  # an edge now and then
of_kind = {kind: st.sampled_from([label["name"] for label in LABELS if label["kind"] == kind])
           for kind in ("bbox", "polygon", "tag")}
near = st.one_of(
    st.fixed_dictionaries({"type": st.just("bbox"), "label": of_kind["bbox"], "x": coord,
                           "y": coord, "w": size, "h": size}),
    st.fixed_dictionaries({"type": st.just("polygon"), "label": of_kind["polygon"],
                           "points": st.lists(st.tuples(coord, coord), min_size=2, max_size=5)}),
    st.fixed_dictionaries({"type": st.just("tag"), "label": of_kind["tag"]}),
    st.fixed_dictionaries({"type": st.just("redaction"), "x": coord, "y": coord, "w": size,
                           "h": size}))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(near, near, near, near, shape), max_size=5))
def test_validation_stores_only_shapes_that_keep_the_rules(raw: list) -> None:
    try:
        parsed = shape_rules.SHAPE_LIST.validate_python(raw)
        stored = shape_rules.validate(parsed, labels=LABELS, width=WIDTH, height=HEIGHT,
                                      max_shapes=5)
    except (ValidationError, Invalid):
        event("refused")
        return
    event(f"stored {len(stored)}")
    kinds = {label["name"]: label["kind"] for label in LABELS}
    assert len(stored) <= 5
    assert len({s["id"] for s in stored}) == len(stored)
    for s in stored:
        if s["type"] != "redaction":
            assert kinds[s["label"]] == s["type"]
        if "w" in s:
            x, y, w, h = s["x"], s["y"], s["w"], s["h"]
            assert min(w, h) > 0
            assert min(x, y) >= 0
            assert x + w <= WIDTH
            assert y + h <= HEIGHT
        if "points" in s:
            assert len({tuple(p) for p in s["points"]}) >= 3
            assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in s["points"])
        assert all(math.isfinite(v) for k, v in s.items() if k in "xywh")


# Mostly boxes that pass, with now and then a value, id or label that does not.
def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    return st.integers(0, 9).flatmap(lambda n: good if n else bad)  # one_of drops repeats


value = mostly(st.one_of(st.floats(0.5, 20), st.integers(1, 20)),
               st.one_of(coord, numbers, st.just(2**60)))
box_with_id = st.fixed_dictionaries({
    "id": mostly(st.sampled_from(["a", "b", "s1", "x.y:z-_9"]),
                 st.one_of(st.text(max_size=4), st.integers(0, 3))),
    "type": st.just("bbox"), "label": mostly(of_kind["bbox"], labels),
    "x": value, "y": value, "w": value, "h": value})


@settings(max_examples=700, deadline=None)
@given(st.lists(mostly(box_with_id, shape), max_size=3))
def test_plain_boxes_store_what_the_models_store(raw: list) -> None:
    """The import's quick way for plain boxes either declines or stores exactly what
    SHAPE_LIST and `validate` store, keys in the same order."""
    fast = shape_rules.plain_boxes(raw, labels={label["name"]: label for label in LABELS},
                                   width=WIDTH, height=HEIGHT)
    try:
        slow = shape_rules.validate(shape_rules.SHAPE_LIST.validate_python(raw), labels=LABELS,
                                    width=WIDTH, height=HEIGHT, max_shapes=10)
    except (ValidationError, Invalid):
        slow = None
    event("quick" if fast is not None else "declined")
    if fast is not None:
        assert slow is not None
        assert json.dumps(fast) == json.dumps(slow)  # keys in order, 1.0 not 1


def test_plain_boxes_take_the_usual_import() -> None:
    boxes = [{"id": f"i{j}", "type": "bbox", "label": "car", "x": 3 * j, "y": 1.5, "w": 10,
              "h": 20} for j in range(5)]
    stored = shape_rules.plain_boxes(boxes, labels={"car": LABELS[0]}, width=WIDTH,
                                     height=HEIGHT)
    assert stored == [{**b, "x": float(b["x"]), "w": 10.0, "h": 20.0} for b in boxes]
    assert type(stored[0]["x"]) is float
