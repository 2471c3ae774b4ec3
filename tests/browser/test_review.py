"""The review loop in a real browser: send back with a comment, fix, accept with the redaction
confirmations; an escalation raised in the editor and resolved on the escalations page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from labelop.annotations.models import Escalation, Task, TaskState
from labelop.annotations.services import annotation_save, task_submit
from labelop.annotations.shapes import BBox
from labelop.review.models import ReviewDecision
from tests.browser.test_editor import _canvas_centre, _drag, _ready, _sign_in, _world


@pytest.mark.django_db(transaction=True)
def test_send_back_fix_accept_and_an_escalation(browser: Browser, live_server,
                                                data_dir) -> None:
    world = _world()
    world.project.redaction_rules = ["all faces"]
    world.project.save()
    task, second = world.tasks[0], world.tasks[1]
    annotator_actor = world.actor("annotator")
    annotation_save(actor=annotator_actor, task_id=task.pk, if_match=0,
                    shapes=[BBox(type="bbox", label="car", x=10, y=10, w=50, h=40)])
    task_submit(actor=annotator_actor, task_id=task.pk)
    base = live_server.url
    reviewer = browser.new_context().new_page()
    annotator = browser.new_context().new_page()
    _sign_in(reviewer, base, "reviewer")
    _sign_in(annotator, base, "annotator")

    # The reviewer sends the work back with a comment.
    reviewer.goto(f"{base}/projects/{world.project.pk}/review")
    reviewer.get_by_role("link", name=f"Review #{task.pk}").click()
    _ready(reviewer)
    panel = reviewer.get_by_test_id("review-panel")
    panel.get_by_test_id("review-text").fill("The second car is missing.")
    panel.get_by_role("button", name="Send back").click()
    expect(reviewer).to_have_url(re.compile(r"/review\?done=1$"))
    assert Task.objects.get(pk=task.pk).state == TaskState.REJECTED

    # The annotator reads it, fixes the task and hands it in again.
    annotator.goto(f"{base}/tasks/{task.pk}")
    _ready(annotator)
    expect(annotator.get_by_test_id("review-comment")).to_contain_text(
        "Sent back by reviewer: The second car is missing.")
    x, y = _canvas_centre(annotator)
    annotator.keyboard.press("1")
    _drag(annotator, (x + 20, y + 20), (x + 90, y + 70))
    annotator.keyboard.press("Control+s")
    expect(annotator.get_by_test_id("status")).to_have_attribute("data-status", "saved")
    expect(annotator.get_by_role("button", name="Submit")).to_be_enabled()
    annotator.keyboard.press("Enter")
    expect(annotator).not_to_have_url(f"{base}/tasks/{task.pk}")
    assert Task.objects.get(pk=task.pk).state == TaskState.SUBMITTED

    # Accepting needs the redaction rule confirmed.
    reviewer.goto(f"{base}/projects/{world.project.pk}/review")
    reviewer.get_by_role("link", name=f"Review #{task.pk}").click()
    _ready(reviewer)
    reviewer.get_by_role("button", name="Accept").click()
    expect(reviewer.get_by_role("alert").first).to_contain_text("Not confirmed: all faces.")
    reviewer.locator("[data-rule='all faces']").check()
    reviewer.get_by_role("button", name="Accept").click()
    expect(reviewer).to_have_url(re.compile(r"/review\?done=1$"))
    assert Task.objects.get(pk=task.pk).state == TaskState.ACCEPTED
    assert ReviewDecision.objects.get(decision="accept").confirmations == ["all faces"]

    # An escalation, raised in the editor and resolved on the escalations page.
    annotator.goto(f"{base}/tasks/{second.pk}")
    _ready(annotator)
    annotator.get_by_role("button", name="Escalate…").click()
    annotator.get_by_label("Reason").select_option("possible consent issue")
    annotator.get_by_label("Note").fill("A face in the window.")
    annotator.get_by_role("button", name="Escalate", exact=True).click()
    expect(annotator.get_by_test_id("status")).to_have_attribute("data-status", "readonly")
    escalation = Escalation.objects.get(task=second)
    assert (escalation.reason, escalation.note) == ("possible consent issue",
                                                    "A face in the window.")

    reviewer.goto(f"{base}/projects/{world.project.pk}/escalations")
    expect(reviewer.get_by_test_id("escalations")).to_contain_text("A face in the window.")
    reviewer.get_by_label(f"Decision on escalation {escalation.pk}").fill("Face blurred; go on.")
    reviewer.get_by_role("button", name="Resolve").click()
    expect(reviewer.get_by_text("Resolved: the task is back where it was.")).to_be_visible()
    assert Task.objects.get(pk=second.pk).state == TaskState.ASSIGNED
    assert Escalation.objects.get(pk=escalation.pk).resolution == "Face blurred; go on."
