from __future__ import annotations

import json

import pytest

from labelop.annotations.models import Escalation, Task, TaskState
from labelop.annotations.states import TRANSITIONS, Event, after
from labelop.audit.models import AuditEvent
from labelop.core.errors import Conflict
from tests.conftest import World, api_for
from tests.labeling import BOX_LABEL_REQUIRED, assign, make_tasks, save

BOX = {"id": "b1", "type": "bbox", "label": "car", "x": 1, "y": 1, "w": 9, "h": 9,
       "attributes": {"plate": "AB-123"}}


def _ids(body: dict) -> list[int]:
    return [t["id"] for t in body["items"]]


def test_annotators_see_only_their_tasks(labeled: World) -> None:
    p = labeled.project.pk
    owner_view = api_for(labeled.users["owner"]).get(f"/projects/{p}/tasks").json()
    assert _ids(owner_view) == [t.pk for t in labeled.tasks]
    mine = api_for(labeled.users["annotator"]).get(f"/projects/{p}/tasks").json()
    assert _ids(mine) == [labeled.tasks[0].pk]
    assert mine["items"][0] | {"updated_at": None} == {
        "id": labeled.tasks[0].pk, "project": p, "asset": labeled.tasks[0].asset_id,
        "name": "img-000000.jpg", "state": "assigned", "assignee": "annotator", "version": 0,
        "shape_count": 0, "width": 640, "height": 480, "orientation": 1, "updated_at": None}
    # Asking for someone else's tasks narrows nothing open: still only their own.
    theirs = api_for(labeled.users["annotator"]).get(f"/projects/{p}/tasks?assignee=owner").json()
    assert theirs["items"] == []
    assert api_for(labeled.users["annotator"]).get(f"/tasks/{labeled.tasks[1].pk}"
                                                   ).status_code == 404
    assert api_for(labeled.users["outsider"]).get(f"/projects/{p}/tasks").status_code == 404


def test_filters(labeled: World) -> None:
    p = labeled.project.pk
    owner = api_for(labeled.users["owner"])
    save(api_for(labeled.users["annotator"]), labeled.tasks[0].pk, [BOX], 0)
    assert _ids(owner.get(f"/projects/{p}/tasks?state=new").json()) == [
        t.pk for t in labeled.tasks[1:]]
    assert _ids(owner.get(f"/projects/{p}/tasks?assignee=annotator").json()) == [
        labeled.tasks[0].pk]
    assert _ids(owner.get(f"/projects/{p}/tasks?assignee=").json()) == [
        t.pk for t in labeled.tasks[1:]]
    assert _ids(owner.get(f"/projects/{p}/tasks?label=car").json()) == [labeled.tasks[0].pk]
    assert _ids(owner.get(f"/projects/{p}/tasks?label=road").json()) == []
    assert _ids(owner.get(f"/projects/{p}/tasks?q=000002").json()) == [labeled.tasks[2].pk]
    assert owner.get(f"/projects/{p}/tasks?state=lost").status_code == 422
    assert owner.get(f"/projects/{p}/tasks?q=a%00b").status_code == 422
    assert owner.get(f"/projects/{p}/tasks?label={'x' * 201}").status_code == 422
    assert owner.get(f"/projects/{p}/tasks?cursor=garbage").status_code == 400


def test_cursor_pages_walk_every_task_once(labeled: World) -> None:
    more = make_tasks(labeled.project, 120, start=100)
    owner = api_for(labeled.users["owner"])
    seen: list[int] = []
    cursor = ""
    while True:
        body = owner.get(f"/projects/{labeled.project.pk}/tasks?limit=50&cursor={cursor}").json()
        seen += _ids(body)
        if body["next"] is None:
            break
        cursor = body["next"]
    assert seen == [t.pk for t in labeled.tasks + more]


def test_assign_by_ids_and_reassign(labeled: World) -> None:
    p = labeled.project.pk
    owner = api_for(labeled.users["owner"])
    ids = [t.pk for t in labeled.tasks]
    response = owner.post(f"/projects/{p}/tasks/assign", {"annotator": "target", "task_ids": ids})
    assert response.status_code == 200, response.content
    assert response.json() == {"assigned": 3, "tasks": {"target": ids}}
    assert set(Task.objects.filter(pk__in=ids).values_list("state", "assignee__username")) == {
        ("assigned", "target")}
    event = AuditEvent.objects.filter(action="task.assigned").get()
    assert event.target == "user:target"
    assert json.loads(event.details) == {
        "tasks": f"{ids[0]}-{ids[-1]}", "count": 3, "from": {"annotator": str(ids[0])}}


def test_assign_by_count_deals_in_turn(labeled: World) -> None:
    more = make_tasks(labeled.project, 5, start=10)
    body = api_for(labeled.users["owner"]).post(
        f"/projects/{labeled.project.pk}/tasks/assign",
        {"annotators": ["annotator", "target"], "count": 5}).json()
    free = [t.pk for t in labeled.tasks[1:] + more]
    assert body == {"assigned": 5, "tasks": {"annotator": free[0:5:2], "target": free[1:5:2]}}
    # More than there are: what is left.
    rest = api_for(labeled.users["owner"]).post(
        f"/projects/{labeled.project.pk}/tasks/assign", {"annotator": "target", "count": 50})
    assert rest.json()["assigned"] == 2


def test_assignment_refusals(labeled: World) -> None:
    p = labeled.project.pk
    owner = api_for(labeled.users["owner"])
    cases = [
        ({"annotator": "outsider", "count": 1}, 422, "not_a_member"),
        ({"annotator": "target"}, 422, "invalid_request"),
        ({"annotator": "target", "count": 1, "task_ids": [1]}, 422, "invalid_request"),
        ({"count": 1}, 422, "invalid_request"),
        ({"annotator": "target", "count": 0}, 422, "invalid_request"),
        ({"annotator": "target", "task_ids": [10**9]}, 404, "task_not_found"),
    ]
    for body, status, code in cases:
        response = owner.post(f"/projects/{p}/tasks/assign", body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    other = make_tasks(labeled.other_project, 1)[0]
    assert owner.post(f"/projects/{p}/tasks/assign",
                      {"annotator": "target", "task_ids": [other.pk]}).status_code == 404
    Task.objects.filter(pk=labeled.tasks[0].pk).update(state=TaskState.SUBMITTED)
    refused = owner.post(f"/projects/{p}/tasks/assign",
                         {"annotator": "target", "task_ids": [t.pk for t in labeled.tasks]})
    assert refused.status_code == 409
    assert refused.json()["tasks"] == [{"id": labeled.tasks[0].pk, "state": "submitted"}]
    # All or nothing: the other two were not assigned either.
    assert Task.objects.filter(assignee__username="target").count() == 0
    for who in ("reviewer", "annotator"):
        assert api_for(labeled.users[who]).post(
            f"/projects/{p}/tasks/assign", {"annotator": "target", "count": 1}
        ).status_code == 403


def test_unassign(labeled: World) -> None:
    p = labeled.project.pk
    owner = api_for(labeled.users["owner"])
    response = owner.post(f"/projects/{p}/tasks/unassign", {"task_ids": [labeled.tasks[0].pk]})
    assert response.json() == {"unassigned": 1}
    task = Task.objects.get(pk=labeled.tasks[0].pk)
    assert (task.state, task.assignee_id) == ("new", None)
    event = AuditEvent.objects.filter(action="task.unassigned").get()
    assert json.loads(event.details)["from"] == {"annotator": str(task.pk)}  # whose access ended
    refused = owner.post(f"/projects/{p}/tasks/unassign", {"task_ids": [labeled.tasks[1].pk]})
    assert refused.status_code == 409
    assert refused.json()["code"] == "illegal_transition"


def test_next_task_prefers_rework_then_oldest(labeled: World) -> None:
    p = labeled.project.pk
    annotator = api_for(labeled.users["annotator"])
    a, b, c = labeled.tasks
    assign(b, labeled.users["annotator"])
    assign(c, labeled.users["annotator"])
    assert annotator.get(f"/projects/{p}/tasks/next").json()["task"]["id"] == a.pk
    assert annotator.get(f"/projects/{p}/tasks/next?after={a.pk}").json()["task"]["id"] == b.pk
    assert annotator.get(f"/projects/{p}/tasks/next?after={c.pk}").json()["task"]["id"] == a.pk
    Task.objects.filter(pk=c.pk).update(state=TaskState.REJECTED)
    assert annotator.get(f"/projects/{p}/tasks/next").json()["task"]["id"] == c.pk
    Task.objects.filter(assignee=labeled.users["annotator"]).update(state=TaskState.SUBMITTED)
    assert annotator.get(f"/projects/{p}/tasks/next").json() == {"task": None}


def test_submit_locks_the_annotation_for_the_annotator(labeled: World) -> None:
    task = labeled.tasks[0]
    annotator = api_for(labeled.users["annotator"])
    save(annotator, task.pk, [BOX], 0)
    assert annotator.post(f"/tasks/{task.pk}/submit", {"version": 0}).status_code == 409
    response = annotator.post(f"/tasks/{task.pk}/submit", {"version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted"
    assert AuditEvent.objects.filter(action="task.submitted", target=f"task:{task.pk}").exists()
    again = save(annotator, task.pk, [], 1)
    assert again.status_code == 409
    assert "waits for review" in again.json()["detail"]
    assert annotator.post(f"/tasks/{task.pk}/submit", {}).json()["code"] == "illegal_transition"


def test_only_the_assignee_submits(labeled: World) -> None:
    task = labeled.tasks[0]
    assert api_for(labeled.users["owner"]).post(f"/tasks/{task.pk}/submit", {}).json()[
        "code"] == "not_assignee"
    assert api_for(labeled.users["target"]).post(f"/tasks/{task.pk}/submit", {}
                                                 ).status_code == 404
    unassigned = labeled.tasks[1]
    assert api_for(labeled.users["owner"]).post(f"/tasks/{unassigned.pk}/submit", {}
                                                ).status_code == 403


def test_required_attributes_are_needed_to_submit(labeled: World) -> None:
    task = labeled.tasks[0]
    annotator = api_for(labeled.users["annotator"])
    save(annotator, task.pk, [BOX_LABEL_REQUIRED], 0)
    response = annotator.post(f"/tasks/{task.pk}/submit", {})
    assert response.status_code == 422
    assert response.json()["missing"] == [{"id": "b9", "attribute": "plate"}]


def test_escalation_freezes_the_task_until_resolved(labeled: World) -> None:
    task = labeled.tasks[0]
    annotator = api_for(labeled.users["annotator"])
    save(annotator, task.pk, [BOX], 0)
    unknown = annotator.post(f"/tasks/{task.pk}/escalate", {"reason": "bored"})
    assert unknown.status_code == 422
    assert unknown.json()["reasons"] == labeled.project.escalation_reasons
    response = annotator.post(f"/tasks/{task.pk}/escalate",
                              {"reason": "possible consent issue", "note": "no form on file"})
    assert response.status_code == 201, response.content
    assert response.json()["note"] == "no form on file"
    assert response.json()["previous_state"] == "assigned"
    escalation = Escalation.objects.get()
    assert escalation.reason == "possible consent issue"
    frozen = save(annotator, task.pk, [], 1)
    assert frozen.status_code == 409
    assert "waits for an owner or reviewer" in frozen.json()["detail"]
    refused = annotator.post(f"/tasks/{task.pk}/submit", {})
    assert refused.status_code == 409
    assert "escalated" in refused.json()["detail"]
    again = annotator.post(f"/tasks/{task.pk}/escalate", {"reason": "ambiguous content"})
    assert again.status_code == 409
    assert annotator.post(f"/tasks/{task.pk}/escalate", {"reason": " "}).status_code == 422
    event = AuditEvent.objects.filter(action="task.escalated").get()
    assert json.loads(event.details)["reason"] == "possible consent issue"

    # The annotator cannot resolve it; a reviewer can, and the task is back where it was.
    path = f"/escalations/{escalation.pk}/resolve"
    assert annotator.post(path, {"resolution": "fine"}).status_code == 403
    assert api_for(labeled.users["target"]).post(path, {"resolution": "x"}).status_code == 404
    reviewer = api_for(labeled.users["reviewer"])
    done = reviewer.post(path, {"resolution": "consent form found"})
    assert done.status_code == 200, done.content
    assert done.json()["resolved_by"] == "reviewer"
    assert Task.objects.get(pk=task.pk).state == TaskState.ASSIGNED
    assert reviewer.post(path, {"resolution": "again"}).json()["code"] == "already_resolved"
    resolved = AuditEvent.objects.filter(action="escalation.resolved").get()
    assert json.loads(resolved.details)["state"] == "assigned"
    assert save(annotator, task.pk, [], 1).status_code == 200


def test_submitted_work_is_escalated_only_by_reviewers(labeled: World) -> None:
    task = labeled.tasks[0]
    annotator = api_for(labeled.users["annotator"])
    annotator.post(f"/tasks/{task.pk}/submit", {})
    refused = annotator.post(f"/tasks/{task.pk}/escalate", {"reason": "redaction unclear"})
    assert refused.status_code == 409  # else escalating would reopen submitted work
    assert "during review" in refused.json()["detail"]
    response = api_for(labeled.users["reviewer"]).post(f"/tasks/{task.pk}/escalate",
                                                       {"reason": "redaction unclear"})
    assert response.json()["previous_state"] == "submitted"
    assert save(annotator, task.pk, [BOX], 0).status_code == 409  # still frozen for them
    api_for(labeled.users["owner"]).post(
        f"/escalations/{response.json()['id']}/resolve", {"resolution": "ok"})
    assert Task.objects.get(pk=task.pk).state == TaskState.SUBMITTED


def test_progress_per_assignee(labeled: World) -> None:
    body = api_for(labeled.users["reviewer"]).get(
        f"/projects/{labeled.project.pk}/tasks/progress").json()
    rows = {r["assignee"]: r for r in body["items"]}
    assert rows["annotator"]["assigned"] == 1
    assert rows["annotator"]["total"] == 1
    assert rows[None]["new"] == 2
    assert api_for(labeled.users["annotator"]).get(
        f"/projects/{labeled.project.pk}/tasks/progress").status_code == 403


ALL_PAIRS = [(s, e) for s in TaskState for e in Event]


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: str(v))
def test_state_machine_refuses_every_move_not_in_the_table(state: TaskState, event: Event
                                                           ) -> None:
    if (state, event) in TRANSITIONS:
        assert after(state, event) == TRANSITIONS[(state, event)]
        return
    with pytest.raises(Conflict) as refused:
        after(state, event)
    assert refused.value.code == "illegal_transition"
    assert refused.value.extra == {"state": state.value, "event": event.value}
    assert event.value in refused.value.detail
