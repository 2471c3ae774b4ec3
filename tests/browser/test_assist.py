"""One-click assist in a real browser: the annotator asks the local models for redactions,
accepts the face they found, saves, and the annotation holds it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from labelop.annotations.models import Annotation
from tests.browser.test_editor import _ready, _sign_in
from tests.conftest import build_world
from tests.inference.test_local_models import ASTRONAUT_FACE, _astronaut_task, _inside


@pytest.mark.django_db(transaction=True)
def test_suggest_redactions_then_accept_and_save(page: Page, live_server, data_dir) -> None:
    world = build_world()
    task = _astronaut_task(world)
    _sign_in(page, live_server.url, "annotator")
    page.goto(f"{live_server.url}/tasks/{task.pk}")
    _ready(page)

    page.get_by_role("button", name="Suggest redactions").click()

    expect(page.get_by_text("Suggestions (1)")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Accept all").click()
    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "saved")
    [face] = Annotation.objects.get(task=task).shapes
    assert face["type"] == "redaction"
    assert _inside(face, ASTRONAUT_FACE)
