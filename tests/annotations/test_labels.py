from __future__ import annotations

import json

from labelop.audit.models import AuditEvent
from tests.conftest import World, api_for
from tests.labeling import LABELS, save


def test_everyone_in_the_project_reads_the_schema(labeled: World) -> None:
    for who in ("owner", "reviewer", "annotator"):
        body = api_for(labeled.users[who]).get(f"/projects/{labeled.project.pk}/labels").json()
        assert [label["name"] for label in body["labels"]] == ["car", "road", "night"]
        assert body["redaction_methods"] == ["blur", "pixelate", "fill"]
        assert body["max_shapes"] == 2000
    outsider = api_for(labeled.users["outsider"]).get(f"/projects/{labeled.project.pk}/labels")
    assert outsider.status_code == 404


def test_owner_replaces_the_schema_and_it_is_audited(labeled: World) -> None:
    new = [*LABELS, {"name": "person", "kind": "polygon", "color": "#123456"}]
    new[0] = {**new[0], "color": "#000000"}
    response = api_for(labeled.users["owner"]).call(
        "PUT", f"/projects/{labeled.project.pk}/labels", {"labels": new})
    assert response.status_code == 200, response.content
    assert response.json()["labels"][3] == {"name": "person", "kind": "polygon",
                                           "color": "#123456", "attributes": []}
    event = AuditEvent.objects.filter(action="labels.updated").get()
    assert json.loads(event.details) == {
        "added": ["person"], "removed": [], "changed": ["car"], "labels": 4}


def test_reviewer_and_annotator_may_not_change_it(labeled: World) -> None:
    for who in ("reviewer", "annotator"):
        response = api_for(labeled.users[who]).call(
            "PUT", f"/projects/{labeled.project.pk}/labels", {"labels": []})
        assert response.status_code == 403


def _put(world: World, labels: list) -> object:
    return api_for(world.users["owner"]).call("PUT", f"/projects/{world.project.pk}/labels",
                                              {"labels": labels})


def test_schema_rules(labeled: World) -> None:
    bad = {
        "same name twice (case folded)": [{"name": "Car"}, {"name": "car"}],
        "unknown kind": [{"name": "x", "kind": "circle"}],
        "bad colour": [{"name": "x", "color": "red"}],
        "choice without options": [{"name": "x", "attributes": [{"name": "a",
                                                                  "type": "choice"}]}],
        "options on text": [{"name": "x", "attributes": [{"name": "a", "options": ["1"]}]}],
        "attribute twice": [{"name": "x", "attributes": [{"name": "a"}, {"name": "a"}]}],
        "control characters": [{"name": "x\u0007"}],
        "unknown field": [{"name": "x", "hotkey": 1}],
    }
    for why, labels in bad.items():
        response = _put(labeled, labels)
        assert response.status_code == 422, why
        assert response.json()["code"] == "invalid_request", why


def test_a_label_in_use_cannot_be_removed_or_change_kind(labeled: World) -> None:
    annotator = api_for(labeled.users["annotator"])
    task = labeled.tasks[0]
    shapes = [{"type": "bbox", "label": "car", "x": 1, "y": 1, "w": 5, "h": 5} for _ in range(3)]
    saved = save(annotator, task.pk, shapes, 0)
    assert saved.status_code == 200, saved.content

    removed = _put(labeled, LABELS[1:])
    assert removed.status_code == 409
    assert removed.json()["code"] == "label_in_use"
    assert removed.json()["shapes"] == 3
    assert "3 shape(s)" in removed.json()["detail"]

    rekinded = _put(labeled, [{**LABELS[0], "kind": "polygon"}, *LABELS[1:]])
    assert rekinded.status_code == 409
    assert rekinded.json()["label"] == "car"

    # Unused labels go freely.
    assert _put(labeled, LABELS[:1]).status_code == 200
    # Once the shapes are gone, so may the label be.
    save(annotator, task.pk, [], 1)
    assert _put(labeled, []).status_code == 200


def test_attributes_and_choices_in_use_are_kept(labeled: World) -> None:
    shape = {"type": "bbox", "label": "car", "x": 1, "y": 1, "w": 5, "h": 5,
             "attributes": {"make": "vw"}}
    assert save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, [shape], 0
                ).status_code == 200
    car = LABELS[0]
    fewer_choices = {**car, "attributes": [
        {**a, "options": ["fiat"]} if a["name"] == "make" else a for a in car["attributes"]]}
    no_plate = {**car, "attributes": [a for a in car["attributes"] if a["name"] != "plate"]}
    retyped = {**car, "attributes": [
        {"name": "occluded", "type": "text"} if a["name"] == "occluded" else a
        for a in car["attributes"]]}
    for changed in (fewer_choices, no_plate, retyped):
        response = _put(labeled, [changed, *LABELS[1:]])
        assert response.status_code == 409, changed
        assert response.json()["code"] == "label_in_use"
    more = {**car, "attributes": [*car["attributes"], {"name": "colour", "type": "text"}]}
    assert _put(labeled, [more, *LABELS[1:]]).status_code == 200  # widening is free

