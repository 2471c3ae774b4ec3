from __future__ import annotations

import json
from datetime import timedelta

import pytest

from labelop.annotations.models import Escalation, Task, TaskState
from labelop.audit.models import AuditEvent
from labelop.permissions import Role
from labelop.projects.models import Membership, Sensitivity
from labelop.review.models import ReviewDecision
from labelop.review.services import review_required
from tests.conftest import World, api_for, make_user
from tests.labeling import assign, make_tasks, save

RULES = ["all faces", "licence plates"]
PLATE = {"id": "b1", "type": "bbox", "label": "car", "x": 1, "y": 1, "w": 9, "h": 9,
         "attributes": {"plate": "AB-123"}}


@pytest.fixture
def reviewing(labeled: World) -> World:
    """The labeled world with two redaction rules and its first task handed in."""
    labeled.project.redaction_rules = RULES
    labeled.project.save(update_fields=["redaction_rules"])
    annotator = api_for(labeled.users["annotator"])
    assert save(annotator, labeled.tasks[0].pk, [PLATE], 0).status_code == 200
    assert annotator.post(f"/tasks/{labeled.tasks[0].pk}/submit", {}).status_code == 200
    return labeled


def _review(world: World, who: str, task_id: int, **body):
    return api_for(world.users[who]).post(f"/tasks/{task_id}/review", body)


def test_the_whole_loop(reviewing: World) -> None:
    task = reviewing.tasks[0]
    annotator = api_for(reviewing.users["annotator"])

    sent_back = _review(reviewing, "reviewer", task.pk, decision="reject",
                        comment="The plate on the left is not boxed.")
    assert sent_back.status_code == 200, sent_back.content
    assert sent_back.json()["state"] == "rejected"
    assert sent_back.json()["annotator"] == "annotator"
    event = AuditEvent.objects.filter(action="task.reviewed").get()
    assert json.loads(event.details)["comment"] == "The plate on the left is not boxed."

    # The annotator sees it first in their queue, fixes it and hands it in again.
    nxt = annotator.get(f"/projects/{reviewing.project.pk}/tasks/next").json()["task"]
    assert nxt["id"] == task.pk
    fixed = [PLATE, {**PLATE, "id": "b2", "x": 20}]
    assert save(annotator, task.pk, fixed, 1).json()["state"] == "assigned"
    assert annotator.post(f"/tasks/{task.pk}/submit", {}).status_code == 200

    accepted = _review(reviewing, "reviewer", task.pk, decision="accept",
                       confirmations=RULES, version=2)
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] == "accepted"
    assert accepted.json()["confirmations"] == RULES
    decisions = list(ReviewDecision.objects.order_by("id").values_list(
        "decision", "version", "reviewer_name", "annotator__username"))
    assert decisions == [("reject", 1, "reviewer", "annotator"),
                         ("accept", 2, "reviewer", "annotator")]
    assert _review(reviewing, "reviewer", task.pk, decision="accept",
                   confirmations=RULES).json()["code"] == "illegal_transition"


def test_accepting_needs_every_redaction_rule_confirmed(reviewing: World) -> None:
    task = reviewing.tasks[0]
    none = _review(reviewing, "reviewer", task.pk, decision="accept")
    assert none.status_code == 422
    assert none.json()["code"] == "redaction_unconfirmed"
    assert none.json()["missing"] == RULES
    one = _review(reviewing, "reviewer", task.pk, decision="accept", confirmations=RULES[:1])
    assert one.json()["missing"] == RULES[1:]
    unknown = _review(reviewing, "reviewer", task.pk, decision="accept",
                      confirmations=[*RULES, "screens"])
    assert unknown.json()["code"] == "unknown_redaction_rule"
    assert Task.objects.get(pk=task.pk).state == TaskState.SUBMITTED
    assert not ReviewDecision.objects.exists()


def test_illegal_moves(reviewing: World) -> None:
    task = reviewing.tasks[0]
    # Annotators do not review; a reject says why; a stale version is refused.
    assert _review(reviewing, "annotator", task.pk, decision="accept",
                   confirmations=RULES).status_code == 403
    assert _review(reviewing, "reviewer", task.pk, decision="reject").json()["code"] == (
        "comment_required")
    assert _review(reviewing, "reviewer", task.pk, decision="accept", confirmations=RULES,
                   version=0).json()["code"] == "version_conflict"
    # A task that is not handed in cannot be decided.
    assert _review(reviewing, "reviewer", reviewing.tasks[1].pk, decision="accept",
                   confirmations=RULES).json()["code"] == "illegal_transition"
    # An escalated task cannot be accepted.
    api_for(reviewing.users["reviewer"]).post(f"/tasks/{task.pk}/escalate",
                                              {"reason": "redaction unclear"})
    escalated = _review(reviewing, "owner", task.pk, decision="accept", confirmations=RULES)
    assert escalated.status_code == 409
    assert escalated.json()["code"] == "illegal_transition"
    # Outsiders do not learn the task exists.
    assert _review(reviewing, "outsider", task.pk, decision="accept").status_code == 404


def test_nobody_reviews_their_own_work(reviewing: World) -> None:
    task = assign(reviewing.tasks[1], reviewing.users["reviewer"])
    reviewer = api_for(reviewing.users["reviewer"])
    assert save(reviewer, task.pk, [PLATE], 0).status_code == 200
    assert reviewer.post(f"/tasks/{task.pk}/submit", {}).status_code == 200
    own = _review(reviewing, "reviewer", task.pk, decision="accept", confirmations=RULES)
    assert own.status_code == 403
    assert own.json()["code"] == "own_work"
    assert _review(reviewing, "owner", task.pk, decision="accept",
                   confirmations=RULES).status_code == 200


def test_review_queue_oldest_first_with_filters(reviewing: World) -> None:
    p = reviewing.project.pk
    other = assign(reviewing.tasks[2], reviewing.users["target"])
    target = api_for(reviewing.users["target"])
    save(target, other.pk, [{"id": "r", "type": "polygon", "label": "road",
                             "points": [[0, 0], [9, 0], [0, 9]]}], 0)
    target.post(f"/tasks/{other.pk}/submit", {})
    reviewer = api_for(reviewing.users["reviewer"])
    ids = [t["id"] for t in reviewer.get(f"/projects/{p}/review-queue").json()["items"]]
    assert ids == [reviewing.tasks[0].pk, other.pk]
    by_target = reviewer.get(f"/projects/{p}/review-queue?annotator=target").json()
    assert [t["id"] for t in by_target["items"]] == [other.pk]
    by_label = reviewer.get(f"/projects/{p}/review-queue?label=car").json()
    assert [t["id"] for t in by_label["items"]] == [reviewing.tasks[0].pk]
    assert api_for(reviewing.users["annotator"]).get(
        f"/projects/{p}/review-queue").status_code == 403


def test_escalation_queue_shows_what_is_overdue(reviewing: World) -> None:
    p = reviewing.project.pk
    reviewer = api_for(reviewing.users["reviewer"])
    assert reviewer.get(f"/projects/{p}/escalations").json()["items"] == []
    reviewer.post(f"/tasks/{reviewing.tasks[0].pk}/escalate", {"reason": "redaction unclear",
                                                               "note": "plate half hidden"})
    assign(reviewing.tasks[1], reviewing.users["annotator"])
    api_for(reviewing.users["annotator"]).post(
        f"/tasks/{reviewing.tasks[1].pk}/escalate", {"reason": "ambiguous content"})
    Escalation.objects.filter(task=reviewing.tasks[1]).update(
        created_at=Escalation.objects.get(task=reviewing.tasks[1]).created_at - timedelta(
            hours=49))
    rows = reviewer.get(f"/projects/{p}/escalations").json()["items"]
    assert [(r["task"], r["reason"], r["overdue"]) for r in rows] == [
        (reviewing.tasks[0].pk, "redaction unclear", False),
        (reviewing.tasks[1].pk, "ambiguous content", True)]
    assert rows[0]["note"] == "plate half hidden"
    reviewer.post(f"/escalations/{rows[0]['id']}/resolve", {"resolution": "fine as is"})
    assert len(reviewer.get(f"/projects/{p}/escalations").json()["items"]) == 1
    assert len(reviewer.get(f"/projects/{p}/escalations?open=false").json()["items"]) == 2


def test_settings_and_the_review_policy(labeled: World) -> None:
    p = labeled.project.pk
    body = api_for(labeled.users["annotator"]).get(f"/projects/{p}/review-settings").json()
    assert body["escalation_reasons"] == ["ambiguous content", "redaction unclear",
                                          "possible consent issue"]
    assert (body["review_required"], body["required_by_profile"]) == (True, True)
    owner = api_for(labeled.users["owner"])
    new = {"redaction_rules": RULES, "escalation_reasons": ["other"],
           "escalation_overdue_hours": 8, "review_required": True}
    assert owner.call("PUT", f"/projects/{p}/review-settings", new).json()["redaction_rules"] == (
        RULES)
    event = AuditEvent.objects.filter(action="review.settings_updated").get()
    assert json.loads(event.details)["escalation_overdue_hours"] == {"before": 48, "after": 8}
    loosen = owner.call("PUT", f"/projects/{p}/review-settings", {**new,
                                                                  "review_required": False})
    assert loosen.json()["code"] == "review_required_by_profile"
    assert api_for(labeled.users["reviewer"]).call(
        "PUT", f"/projects/{p}/review-settings", new).status_code == 403

    # A standard project makes it a setting.
    standard = labeled.other_project
    assert review_required(standard)
    outsider = api_for(labeled.users["outsider"])
    off = outsider.call("PUT", f"/projects/{standard.pk}/review-settings",
                        {**new, "review_required": False})
    assert off.json()["review_required"] is False
    standard.refresh_from_db()
    assert not review_required(standard)
    assert standard.sensitivity == Sensitivity.STANDARD


def test_quality_figures_of_a_seeded_project(labeled: World) -> None:
    project = labeled.project
    ann, ann2 = labeled.users["annotator"], make_user("ann2")
    Membership.objects.create(project=project, user=ann2, role=Role.ANNOTATOR)
    tasks = [*labeled.tasks, *make_tasks(project, 5, start=50)]
    for task in tasks[:5]:
        assign(task, ann)
    for task in tasks[5:]:
        assign(task, ann2)
    a, a2 = api_for(ann), api_for(ann2)
    reviewer = api_for(labeled.users["reviewer"])
    for client, task in [(a, t) for t in tasks[:4]] + [(a2, t) for t in tasks[5:7]]:
        save(client, task.pk, [PLATE], 0)
        client.post(f"/tasks/{task.pk}/submit", {})
    # annotator: 3 accepted, 1 sent back (so 1 rework); ann2: 1 accepted, 1 sent back.
    for task in tasks[:3] + tasks[5:6]:
        reviewer.post(f"/tasks/{task.pk}/review", {"decision": "accept"})
    for task in (tasks[3], tasks[6]):
        reviewer.post(f"/tasks/{task.pk}/review", {"decision": "reject", "comment": "redo"})
    a.post(f"/tasks/{tasks[4].pk}/escalate", {"reason": "ambiguous content"})
    # Times from first save to hand-in: 10, 20, 30, 40 minutes for the annotator.
    for minutes, task in zip((10, 20, 30, 40), tasks[:4], strict=True):
        t = Task.objects.get(pk=task.pk)
        Task.objects.filter(pk=t.pk).update(started_at=t.submitted_at - timedelta(
            minutes=minutes))
    rows = {r["annotator"]: r for r in reviewer.get(f"/projects/{project.pk}/quality"
                                                    ).json()["items"]}
    assert rows["annotator"] == {"annotator": "annotator", "done": 3, "accepted": 3,
                                 "rework": 1, "acceptance_rate": 0.75, "median_minutes": 25.0,
                                 "open_escalations": 1}
    assert rows["ann2"]["done"] == 1
    assert rows["ann2"]["acceptance_rate"] == 0.5
    assert rows["ann2"]["open_escalations"] == 0
    assert api_for(ann).get(f"/projects/{project.pk}/quality").status_code == 403
