"""An annotator's day in the editor, in a real browser: queue, draw, save, reload, submit,
next; a conflict between two people; a task that is not theirs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from labelop.accounts.models import User
from labelop.annotations.models import Annotation, Task, TaskState
from labelop.assets.ingest import ingest
from labelop.assets.services import project_location
from tests import images
from tests.conftest import PASSWORD, World, build_world, recovery_code
from tests.labeling import LABELS


def _world() -> World:
    world = build_world()
    world.project.labels = [{**label, "attributes": []} for label in LABELS]
    world.project.save()
    location = project_location(world.project)
    for seed in range(3):
        ingest(project=world.project, location=location,
               data=images.jpeg(seed=seed, size=(640, 480)), name=f"street-{seed}.jpg",
               created_by=world.users["owner"], via="upload")
    world.tasks = list(Task.objects.filter(project=world.project).order_by("pk"))
    Task.objects.filter(pk__in=[t.pk for t in world.tasks[:2]]).update(
        assignee=world.users["annotator"], state=TaskState.ASSIGNED)
    return world


def _sign_in(page: Page, base: str, username: str) -> None:
    """Sign in with the password and a fresh recovery code as the second factor (the world's
    project requires one)."""
    code = recovery_code(User.objects.get(username=username))
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _ready(page: Page) -> None:
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")


def _canvas_centre(page: Page) -> tuple[float, float]:
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=4)
    page.mouse.move(*end, steps=4)
    page.mouse.up()


@pytest.mark.django_db(transaction=True)
def test_annotator_draws_saves_reloads_submits_and_moves_on(page: Page, live_server,
                                                           data_dir) -> None:
    world = _world()
    first, second, _ = world.tasks
    base = live_server.url
    _sign_in(page, base, "annotator")

    page.goto(f"{base}/projects/{world.project.pk}/queue")
    expect(page.get_by_text("2 to do")).to_be_visible()
    page.get_by_test_id("start-next").click()
    expect(page).to_have_url(f"{base}/tasks/{first.pk}")
    _ready(page)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "saved")

    # Key 1 picks "car" (a box label) and its tool; a drag draws the box.
    x, y = _canvas_centre(page)
    page.keyboard.press("1")
    expect(page.locator("[data-label=car]")).to_have_attribute("aria-pressed", "true")
    _drag(page, (x - 120, y - 80), (x - 20, y - 10))
    expect(page.locator("[data-shape-id][data-type=bbox]")).to_have_count(1)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", re.compile(
        "unsaved|saving|saved"))

    # Key 2 picks "road" (a polygon label); clicks place points, clicking the first closes.
    page.keyboard.press("2")
    points = [(x + 20, y + 20), (x + 140, y + 30), (x + 80, y + 110)]
    for px, py in points:
        page.mouse.click(px, py)
    page.mouse.click(*points[0])
    expect(page.locator("[data-shape-id][data-type=polygon]")).to_have_count(1)

    # Key 3 is a tag: it toggles on the image.
    page.keyboard.press("3")
    expect(page.locator("[data-tag=night]")).to_be_checked()

    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "saved")
    saved = Annotation.objects.get(task=first).shapes
    assert sorted(s["type"] for s in saved) == ["bbox", "polygon", "tag"]
    box = next(s for s in saved if s["type"] == "bbox")
    assert box["label"] == "car"
    assert box["w"] > 10
    assert box["h"] > 10
    polygon = next(s for s in saved if s["type"] == "polygon")
    assert polygon["label"] == "road"
    assert len(polygon["points"]) == 3
    assert all(0 <= px <= 640 and 0 <= py <= 480 for px, py in polygon["points"])

    # After a reload the same shapes are there.
    page.reload()
    _ready(page)
    expect(page.locator("[data-shape-id]")).to_have_count(2)
    expect(page.locator(f"[data-shape-id='{box['id']}']")).to_have_text("car box")
    expect(page.locator("[data-tag=night]")).to_be_checked()

    # Enter hands the task in and opens the next one.
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/tasks/{second.pk}")
    _ready(page)
    assert Task.objects.get(pk=first.pk).state == TaskState.SUBMITTED

    # The submitted task is now read only for its annotator.
    page.goto(f"{base}/tasks/{first.pk}")
    _ready(page)
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "readonly")
    expect(page.get_by_text("Submitted: the task waits for review")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_two_people_editing_one_task_see_the_conflict(browser: Browser, live_server,
                                                      data_dir) -> None:
    world = _world()
    task = world.tasks[0]
    base = live_server.url
    annotator, reviewer = browser.new_context(), browser.new_context()
    a, r = annotator.new_page(), reviewer.new_page()
    _sign_in(a, base, "annotator")
    _sign_in(r, base, "reviewer")
    for page in (a, r):
        page.goto(f"{base}/tasks/{task.pk}")
        _ready(page)

    ax, ay = _canvas_centre(a)
    a.keyboard.press("1")
    _drag(a, (ax - 50, ay - 50), (ax + 50, ay + 50))
    a.keyboard.press("Control+s")
    expect(a.get_by_test_id("status")).to_have_attribute("data-status", "saved")

    rx, ry = _canvas_centre(r)
    r.keyboard.press("1")
    _drag(r, (rx - 100, ry - 20), (rx - 60, ry + 20))
    _drag(r, (rx + 60, ry - 20), (rx + 100, ry + 20))
    r.keyboard.press("Control+s")
    expect(r.get_by_test_id("status")).to_have_attribute("data-status", "conflict")
    conflict = r.get_by_test_id("conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("annotator saved version 1")
    expect(conflict).to_contain_text("1 \u00d7 car box")
    assert len(Annotation.objects.get(task=task).shapes) == 1  # nothing was overwritten

    conflict.get_by_role("button", name="Load their version").click()
    expect(r.locator("[data-shape-id]")).to_have_count(1)
    expect(r.get_by_test_id("status")).to_have_attribute("data-status", "saved")
    annotator.close()
    reviewer.close()


@pytest.mark.django_db(transaction=True)
def test_a_task_not_assigned_to_the_annotator_is_not_found(page: Page, live_server,
                                                           data_dir) -> None:
    world = _world()
    base = live_server.url
    _sign_in(page, base, "annotator")
    response = page.goto(f"{base}/tasks/{world.tasks[2].pk}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_text("This page does not exist, or you may not see it.")).to_be_visible()
    assert "street-2" not in page.content()
