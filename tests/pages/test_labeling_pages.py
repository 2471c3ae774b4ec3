"""The queue, the owner's task table and the editor page, without a browser."""

from __future__ import annotations

import json
import re

from labelop.annotations.models import Task, TaskState
from tests.conftest import World
from tests.pages.test_pages import _signed_in


def _boot(html: str) -> dict:
    match = re.search(r'<script id="editor-data" type="application/json">(.*?)</script>', html,
                      re.S)
    assert match, "the editor page carries its data"
    return json.loads(match.group(1))


def test_queue_counts_and_the_next_button(labeled: World) -> None:
    annotator = _signed_in("annotator")
    base = f"/projects/{labeled.project.pk}"
    html = annotator.get(f"{base}/queue").content.decode()
    assert "<strong>1</strong> to do" in html
    assert f'href="/tasks/{labeled.tasks[0].pk}"' in html
    assert f'href="/tasks/{labeled.tasks[1].pk}"' not in html  # not theirs
    response = annotator.get(f"{base}/next")
    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{labeled.tasks[0].pk}"
    Task.objects.filter(pk=labeled.tasks[0].pk).update(state=TaskState.SUBMITTED)
    empty = annotator.get(f"{base}/next", follow=True).content.decode()
    assert "Nothing left in your queue" in empty


def test_editor_page_says_what_the_person_may_do(labeled: World) -> None:
    task = labeled.tasks[0]
    boot = _boot(_signed_in("annotator").get(f"/tasks/{task.pk}").content.decode())
    assert boot["task"]["id"] == task.pk
    assert (boot["can_edit"], boot["can_submit"]) == (True, True)
    assert [label["name"] for label in boot["labels"]] == ["car", "road", "night"]
    assert boot["image_url"] == f"/api/v1/images/{task.asset_id}/content"

    reviewer = _boot(_signed_in("reviewer").get(f"/tasks/{task.pk}").content.decode())
    assert (reviewer["can_edit"], reviewer["can_submit"]) == (True, False)

    Task.objects.filter(pk=task.pk).update(state=TaskState.SUBMITTED)
    locked = _boot(_signed_in("annotator").get(f"/tasks/{task.pk}").content.decode())
    assert (locked["can_edit"], locked["can_submit"]) == (False, False)
    assert "waits for review" in locked["read_only_reason"]


def test_editor_page_of_someone_elses_task_is_not_found(labeled: World) -> None:
    page = _signed_in("annotator").get(f"/tasks/{labeled.tasks[1].pk}")
    assert page.status_code == 404
    assert "img-000001" not in page.content.decode()
    assert _signed_in("outsider").get(f"/tasks/{labeled.tasks[0].pk}").status_code == 404


def test_owner_assigns_from_the_task_table(labeled: World) -> None:
    owner = _signed_in("owner")
    url = f"/projects/{labeled.project.pk}/tasks"
    html = owner.get(url).content.decode()
    assert 'data-testid="progress"' in html
    assert "Assign ticked tasks" in html

    done = owner.post(url, {"do": "assign", "annotator": ["target"],
                            "task": [str(labeled.tasks[1].pk)]}, follow=True).content.decode()
    assert "Assigned 1 to target." in done
    assert Task.objects.get(pk=labeled.tasks[1].pk).assignee.username == "target"

    dealt = owner.post(url, {"do": "assign-count", "annotator": ["annotator", "target"],
                             "count": "5"}, follow=True).content.decode()
    assert "Assigned 1 to annotator." in dealt  # only one was left

    refused = owner.post(url, {"do": "assign", "annotator": ["target"]},
                         follow=True).content.decode()
    assert "Tick the tasks to assign first." in refused
    for odd in ("\u00b2", "9" * 30, "-1", ""):  # superscript two, overflow, sign, nothing
        page = owner.post(url, {"do": "assign", "annotator": ["target"], "task": [odd]})
        assert page.status_code == 302, odd
        counted = owner.post(url, {"do": "assign-count", "annotator": ["target"], "count": odd})
        assert counted.status_code == 302, odd
    assert owner.get(f"{url}?q=a%00b").status_code == 200  # a NUL in a filter is ignored

    back = owner.post(url, {"do": "unassign", "task": [str(labeled.tasks[1].pk)]},
                      follow=True).content.decode()
    assert "1 task(s) went back to the pool." in back

    filtered = owner.get(f"{url}?assignee=-").content.decode()
    assert f'href="/tasks/{labeled.tasks[1].pk}"' in filtered
    assert f'href="/tasks/{labeled.tasks[0].pk}"' not in filtered


def test_task_table_is_for_owners_and_reviewers(labeled: World) -> None:
    url = f"/projects/{labeled.project.pk}/tasks"
    reviewer = _signed_in("reviewer").get(url).content.decode()
    assert "Assign ticked tasks" not in reviewer
    assert _signed_in("annotator").get(url).status_code == 403
    assert _signed_in("outsider").get(url).status_code == 404
    refused = _signed_in("reviewer").post(url, {"do": "unassign",
                                                "task": [str(labeled.tasks[0].pk)]})
    assert refused.status_code == 302
    assert Task.objects.get(pk=labeled.tasks[0].pk).state == TaskState.ASSIGNED


def test_review_pages_and_the_quality_chart(labeled: World) -> None:
    from labelop.annotations.models import Escalation

    base = f"/projects/{labeled.project.pk}"
    Task.objects.filter(pk=labeled.tasks[0].pk).update(state=TaskState.SUBMITTED)
    reviewer = _signed_in("reviewer")
    queue = reviewer.get(f"{base}/review").content.decode()
    assert f"Review #{labeled.tasks[0].pk}" in queue
    assert _signed_in("annotator").get(f"{base}/review").status_code == 403
    assert _signed_in("outsider").get(f"{base}/escalations").status_code == 404

    escalation = Escalation.objects.create(task=labeled.tasks[0], project=labeled.project,
                                           reason="ambiguous content", note="which car?",
                                           previous_state=TaskState.SUBMITTED,
                                           raised_by=labeled.users["reviewer"])
    Task.objects.filter(pk=labeled.tasks[0].pk).update(state=TaskState.ESCALATED)
    assert "which car?" in reviewer.get(f"{base}/escalations").content.decode()
    for odd in ("\u00b2", "9" * 30, ""):
        assert reviewer.post(f"{base}/escalations", {"escalation": odd,
                                                     "resolution": "x"}).status_code == 302
    done = reviewer.post(f"{base}/escalations", {"escalation": str(escalation.pk),
                                                 "resolution": "the red one"}, follow=True)
    assert "Resolved: the task is back where it was." in done.content.decode()
    assert Task.objects.get(pk=labeled.tasks[0].pk).state == TaskState.SUBMITTED

    page = _signed_in("owner").get(base).content.decode()
    assert 'data-testid="quality"' in page
    assert "Acceptance rate by annotator" in page
    assert 'data-testid="quality"' not in _signed_in("annotator").get(base).content.decode()
