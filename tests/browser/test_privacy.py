"""Privacy operations in a real browser: an owner sets up a local_only project (readiness
fails, the note gets written, the owner enrols an authenticator app, the project activates),
and an annotator reads the note beside the image in the editor."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, expect

from labelop.annotations.models import Task, TaskState
from labelop.assets.ingest import ingest
from labelop.assets.services import project_location
from labelop.projects.models import Project
from tests import images
from tests.browser.test_editor import _ready, _sign_in
from tests.browser.test_first_project import enrol_authenticator
from tests.conftest import PASSWORD, make_user

ANSWERS = {
    "What data is sensitive?": "Faces of patients and their wristbands.",
    "What processing path is allowed?": "Local disk, local models only; nothing leaves.",
    "Who can review it?": "Rita reviews every task and every redaction.",
    "How are exceptions escalated?": "Ask Olga; a second owner approves in LabelOp.",
}


@pytest.mark.django_db(transaction=True)
def test_owner_makes_a_local_only_project_ready_and_the_annotator_reads_the_note(
        browser: Browser, live_server, data_dir) -> None:
    base = live_server.url
    make_user("olga")
    for name in ("rita", "anna"):  # teammates who enrolled their own authenticator earlier
        TOTPDevice.objects.create(user=make_user(name), name="phone", confirmed=True)
    owner = browser.new_context().new_page()

    # The owner signs in with a password only (nothing enrolled yet) and creates the project.
    owner.goto(f"{base}/login")
    owner.get_by_label("Username").fill("olga")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Sign in").click()
    owner.get_by_label("Name").fill("Ward 7 scans")
    owner.get_by_label(re.compile("^local_only")).check()
    owner.get_by_role("button", name="Create project").click()
    expect(owner.get_by_role("heading", name="Ward 7 scans")).to_be_visible()
    project_url = owner.url

    # Readiness fails, and says why.
    readiness = owner.get_by_test_id("readiness")
    expect(readiness).to_contain_text("operating_note: There is no operating note yet.")
    expect(readiness.locator(".badge.bad").first).to_have_text("fail")

    # The note: four answers.
    owner.get_by_test_id("note").get_by_role("link", name="Write it").click()
    for question, answer in ANSWERS.items():
        owner.get_by_label(question).fill(answer)
    owner.get_by_role("button", name="Publish the note").click()
    owner.goto(project_url)
    expect(owner.get_by_test_id("note")).to_contain_text("Version 1")
    expect(readiness).not_to_contain_text("operating_note: There is no operating note")

    # The owner enrols an authenticator app; the project opens up to them.
    expect(owner.get_by_test_id("second-factor-needed")).to_be_visible()
    owner.get_by_role("link", name="set up your authenticator app").click()
    enrol_authenticator(owner)
    owner.goto(project_url)
    expect(owner.get_by_test_id("second-factor-needed")).to_have_count(0)

    # A reviewer and an annotator, then activation.
    for name, role in (("rita", "reviewer"), ("anna", "annotator")):
        owner.get_by_label("Username").fill(name)
        owner.get_by_label("Role", exact=True).select_option(role)
        owner.get_by_role("button", name="Add member").click()
        expect(owner.get_by_text(f"{name} was added as {role}.")).to_be_visible()
    expect(readiness.locator(".badge.bad")).to_have_count(0)
    owner.get_by_role("button", name="Activate the project").click()
    expect(owner.locator(".badge", has_text="active")).to_be_visible()
    project = Project.objects.get(name="Ward 7 scans")
    assert project.status == "active"

    # The annotator, signed in with a second factor, reads the note in the editor.
    ingested = ingest(project=project, location=project_location(project),
                      data=images.jpeg(seed=5, size=(640, 480)), name="bed-3.jpg",
                      created_by=project.created_by, via="upload")
    Task.objects.filter(pk=ingested.task.pk).update(assignee=project.memberships.get(
        user__username="anna").user, state=TaskState.ASSIGNED)
    annotator = browser.new_context().new_page()
    _sign_in(annotator, base, "anna")
    annotator.goto(f"{base}/tasks/{ingested.task.pk}")
    _ready(annotator)
    note = annotator.get_by_test_id("operating-note")
    expect(note).to_contain_text("Operating note (v1)")
    for answer in ANSWERS.values():
        expect(note).to_contain_text(answer)
