from __future__ import annotations

import json

import pytest

from labelop.annotations.models import AnnotationRevision, Task, TaskLabel, TaskState
from labelop.audit.models import AuditEvent
from tests.conftest import World, api_for
from tests.labeling import HEIGHT, WIDTH, assign, save

BOX = {"id": "b1", "type": "bbox", "label": "car", "x": 10, "y": 20, "w": 30, "h": 40}
ROAD = {"id": "p1", "type": "polygon", "label": "road", "points": [[0, 0], [50, 0], [25, 40]]}
NIGHT = {"id": "t1", "type": "tag", "label": "night"}


def test_first_read_is_empty_at_version_0(labeled: World) -> None:
    response = api_for(labeled.users["annotator"]).get(f"/tasks/{labeled.tasks[0].pk}/annotation")
    assert response.status_code == 200
    assert response.json()["version"] == 0
    assert response.json()["shapes"] == []
    assert response["ETag"] == '"0"'


def test_save_read_back_and_revision(labeled: World) -> None:
    annotator = api_for(labeled.users["annotator"])
    task = labeled.tasks[0]
    response = save(annotator, task.pk, [BOX, ROAD, NIGHT], 0)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    assert response["ETag"] == '"1"'
    body = annotator.get(f"/tasks/{task.pk}/annotation").json()
    assert body["shapes"] == [BOX, ROAD, NIGHT]
    assert body["updated_by"] == "annotator"
    task.refresh_from_db()
    assert (task.version, task.shape_count) == (1, 3)
    assert AnnotationRevision.objects.get(task=task, version=1).shapes == [BOX, ROAD, NIGHT]
    assert dict(TaskLabel.objects.filter(task=task).values_list("label", "shapes")) == {
        "car": 1, "road": 1, "night": 1}
    event = AuditEvent.objects.filter(action="annotation.saved").get()
    assert event.target == f"task:{task.pk}"
    assert json.loads(event.details) == {
        "version": 1, "shapes": 3, "added": 3, "removed": 0, "changed": 0}


def test_shapes_without_ids_are_given_ids(labeled: World) -> None:
    annotator = api_for(labeled.users["annotator"])
    shape = {k: v for k, v in BOX.items() if k != "id"}
    saved = save(annotator, labeled.tasks[0].pk, [shape, shape], 0).json()["shapes"]
    assert len({s["id"] for s in saved}) == 2
    assert all(s["id"] for s in saved)


def test_if_match_is_required(labeled: World) -> None:
    response = save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, [BOX], None)
    assert response.status_code == 428
    assert response.json()["code"] == "if_match_required"
    owner = api_for(labeled.users["owner"])
    assert save(owner, labeled.tasks[1].pk, [], '"0"').status_code == 200  # an ETag as sent
    assert save(owner, labeled.tasks[1].pk, [], 'W/"1"').status_code == 200
    assert save(owner, labeled.tasks[1].pk, [], "one").status_code == 428


def test_stale_write_is_refused_with_the_other_version(labeled: World) -> None:
    task = labeled.tasks[0]
    first, second = api_for(labeled.users["annotator"]), api_for(labeled.users["reviewer"])
    assert save(first, task.pk, [BOX], 0).status_code == 200
    stale = save(second, task.pk, [ROAD], 0)  # the reviewer still holds version 0
    assert stale.status_code == 409
    problem = stale.json()
    assert problem["code"] == "version_conflict"
    assert problem["current"]["version"] == 1
    assert problem["current"]["shapes"] == [BOX]
    assert problem["current"]["updated_by"] == "annotator"
    assert Task.objects.get(pk=task.pk).version == 1
    assert AnnotationRevision.objects.filter(task=task).count() == 1


def _problems(response) -> list[str]:
    assert response.status_code == 422, response.content
    body = response.json()
    if body["code"] == "invalid_shapes":
        return [e["code"] for e in body["errors"]]
    return [body["code"]]


@pytest.mark.parametrize(("shape", "code"), [
    ({**BOX, "label": "bus"}, "unknown_label"),
    ({**BOX, "label": "road"}, "wrong_kind"),
    ({**ROAD, "label": "car"}, "wrong_kind"),
    ({**BOX, "x": -1}, "out_of_bounds"),
    ({**BOX, "x": WIDTH - 10, "w": 11}, "out_of_bounds"),
    ({**BOX, "y": HEIGHT}, "out_of_bounds"),
    ({**BOX, "w": 0}, "empty_box"),
    ({**BOX, "h": -5}, "empty_box"),
    ({**ROAD, "points": [[0, 0], [5, 5]]}, "too_few_points"),
    ({**ROAD, "points": [[0, 0], [5, 5], [5, 5]]}, "too_few_points"),
    ({**ROAD, "points": [[0, 0], [5, 5], [10, 10]]}, "empty_polygon"),
    ({**ROAD, "points": [[0, 0], [5, 5], [WIDTH + 1, 10]]}, "out_of_bounds"),
    ({**BOX, "attributes": {"colour": "red"}}, "unknown_attribute"),
    ({**BOX, "attributes": {"occluded": "yes"}}, "invalid_attribute"),
    ({**BOX, "attributes": {"make": "bmw"}}, "invalid_attribute"),
    ({**BOX, "attributes": {"plate": "AB\u0000"}}, "invalid_request"),
    ({"id": "r", "type": "redaction", "method": "blur"}, "redaction_shape"),
    ({"id": "r", "type": "redaction", "x": 1, "y": 1, "w": 2, "h": 2,
      "points": [[0, 0], [1, 0], [0, 1]]}, "redaction_shape"),
    ({"id": "r", "type": "redaction", "x": 1, "y": 1, "w": 2}, "redaction_shape"),
    ({"id": "r", "type": "redaction", "x": 630, "y": 1, "w": 20, "h": 2}, "out_of_bounds"),
    ({"id": "r", "type": "redaction", "method": "smudge", "x": 1, "y": 1, "w": 2, "h": 2},
     "invalid_request"),
    ({**BOX, "type": "circle"}, "invalid_request"),
    ({**BOX, "x": "ten"}, "invalid_request"),
    ({**BOX, "id": "a b"}, "invalid_request"),
    ({**BOX, "extra": 1}, "invalid_request"),
    ({**ROAD, "points": [[0, 0, 0], [5, 5], [0, 5]]}, "invalid_request"),
])
def test_each_rule(labeled: World, shape: dict, code: str) -> None:
    response = save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, [shape], 0)
    assert _problems(response) == [code]
    assert Task.objects.get(pk=labeled.tasks[0].pk).version == 0  # nothing was saved


def test_all_problems_are_listed_with_their_shape(labeled: World) -> None:
    shapes = [BOX, {**BOX, "id": "b2", "label": "bus"}, {**ROAD, "id": "b1"}, NIGHT,
              {**NIGHT, "id": "t2"}]
    body = save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, shapes, 0).json()
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "unknown_label"), (2, "duplicate_id"), (4, "duplicate_tag")]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinity_are_refused(labeled: World, number: str) -> None:
    client = api_for(labeled.users["annotator"]).client
    raw = json.dumps({"shapes": [BOX]}).replace('"x": 10', f'"x": {number}')
    response = client.put(f"/api/v1/tasks/{labeled.tasks[0].pk}/annotation", raw,
                          content_type="application/json",
                          headers={**api_for(labeled.users["annotator"]).headers,
                                   "If-Match": "0"})
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"


def test_too_many_shapes(labeled: World, settings) -> None:
    settings.LABELOP_MAX_SHAPES = 5
    shapes = [{**BOX, "id": f"b{i}"} for i in range(6)]
    response = save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, shapes, 0)
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_shapes"
    assert response.json()["limit"] == 5
    assert save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, shapes[:5], 0
                ).status_code == 200


def test_redaction_regions_are_built_in(labeled: World) -> None:
    shapes = [{"id": "r1", "type": "redaction", "method": "pixelate", "x": 0, "y": 0, "w": 5,
               "h": 5},
              {"id": "r2", "type": "redaction", "method": "fill",
               "points": [[0, 0], [9, 0], [0, 9]]},
              {"id": "r3", "type": "redaction", "x": 1, "y": 1, "w": 2, "h": 2}]
    response = save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, shapes, 0)
    assert response.status_code == 200, response.content
    assert response.json()["shapes"][2]["method"] == "blur"  # the default


def test_who_may_write(labeled: World) -> None:
    assigned, other = labeled.tasks[0], labeled.tasks[1]
    assert save(api_for(labeled.users["annotator"]), other.pk, [BOX], 0).status_code == 404
    assert save(api_for(labeled.users["outsider"]), assigned.pk, [BOX], 0).status_code == 404
    assert save(api_for(labeled.users["site_admin"]), assigned.pk, [BOX], 0).status_code == 404
    assert api_for(labeled.users["annotator"]).get(f"/tasks/{other.pk}/annotation"
                                                   ).status_code == 404
    # Reviewers and owners correct any task; the revision names them.
    assert save(api_for(labeled.users["reviewer"]), assigned.pk, [BOX], 0).status_code == 200
    assert save(api_for(labeled.users["owner"]), other.pk, [BOX], 0).status_code == 200
    assert AnnotationRevision.objects.get(task=assigned).author_name == "reviewer"
    # Correcting does not move the task.
    assert Task.objects.get(pk=other.pk).state == TaskState.NEW


def test_history_lists_every_save_with_its_diff(labeled: World) -> None:
    annotator, reviewer = api_for(labeled.users["annotator"]), api_for(labeled.users["reviewer"])
    task = labeled.tasks[0]
    save(annotator, task.pk, [BOX], 0)
    moved = {**BOX, "x": 12}
    save(annotator, task.pk, [moved, ROAD], 1)
    save(reviewer, task.pk, [ROAD], 2)
    items = annotator.get(f"/tasks/{task.pk}/history").json()["items"]
    assert [(i["version"], i["author"], i["shapes"]) for i in items] == [
        (3, "reviewer", 1), (2, "annotator", 2), (1, "annotator", 1)]
    assert items[0]["removed"] == [moved]
    assert items[0]["added"] == []
    assert items[1]["added"] == [ROAD]
    assert items[1]["changed"] == [{"id": "b1", "before": BOX, "after": moved}]
    assert items[2]["added"] == [BOX]

    page1 = annotator.get(f"/tasks/{task.pk}/history?limit=2").json()
    page2 = annotator.get(f"/tasks/{task.pk}/history?limit=2&cursor={page1['next']}").json()
    assert [i["version"] for i in page1["items"] + page2["items"]] == [3, 2, 1]
    assert page2["items"][0]["added"] == [BOX]  # the diff across the page boundary
    assert page2["next"] is None
    assert api_for(labeled.users["outsider"]).get(f"/tasks/{task.pk}/history").status_code == 404
    capped = annotator.get(f"/tasks/{task.pk}/history?limit=500").json()  # at most 50 a page
    assert len(capped["items"]) == 3


def test_a_saved_rejected_task_goes_back_to_work(labeled: World) -> None:
    task = labeled.tasks[0]
    Task.objects.filter(pk=task.pk).update(state=TaskState.REJECTED)
    assert save(api_for(labeled.users["annotator"]), task.pk, [BOX], 0).json()["state"] == (
        "assigned")


def test_an_accepted_task_is_frozen(labeled: World) -> None:
    task = assign(labeled.tasks[1], labeled.users["annotator"])
    Task.objects.filter(pk=task.pk).update(state=TaskState.ACCEPTED)
    for who in ("annotator", "reviewer", "owner"):
        response = save(api_for(labeled.users[who]), task.pk, [BOX], 0)
        assert response.status_code == 409
        assert response.json()["code"] == "illegal_transition"
        assert "accepted" in response.json()["detail"]
