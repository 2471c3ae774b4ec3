"""A newcomer's first minutes, in a real browser: first sign-in, own password, first
project, a teammate, the audit trail, an API token. Keyboard only where it matters."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import Page, expect

from labelop.accounts.services import bootstrap_site_admin
from labelop.audit.chain import verify_chain
from labelop.projects.models import Membership
from tests.conftest import make_user

NEW_PASSWORD = "my own long passphrase 2026"


def totp_now(secret: str) -> str:
    """What an authenticator app shows now for this base32 secret."""
    from django_otp.oath import TOTP

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key).token():06d}"


def enrol_authenticator(page: Page) -> str:
    """On /two-factor: start, 'scan' (read the secret), confirm with the app's code; the
    recovery codes are shown once. Returns the secret."""
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_label("QR code of your authenticator secret").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Code the app shows now").fill(totp_now(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    return secret


@pytest.mark.django_db(transaction=True)
def test_newcomer_goes_from_first_start_to_a_first_project(page: Page, live_server) -> None:
    username, one_time = bootstrap_site_admin()
    make_user("ada")
    base = live_server.url

    # Sign in with the keyboard alone.
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.keyboard.type(username)  # the username field has autofocus
    page.keyboard.press("Tab")
    page.keyboard.type(one_time)
    page.keyboard.press("Enter")

    # The one-time password must be replaced before anything else.
    expect(page).to_have_url(f"{base}/password")
    expect(page.get_by_text("Your password was set by someone else")).to_be_visible()
    page.get_by_label("Current password").fill(one_time)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password was changed.")).to_be_visible()

    # First project.
    page.get_by_label("Name").fill("Chest X-rays")
    page.get_by_label(re.compile("^local_only")).check()
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Chest X-rays")).to_be_visible()
    expect(page.get_by_text("your role: owner")).to_be_visible()

    # local_only asks for a second factor before the images and the people.
    expect(page.get_by_test_id("second-factor-needed")).to_be_visible()
    project_url = page.url
    page.get_by_role("link", name="set up your authenticator app").click()
    enrol_authenticator(page)
    page.goto(project_url)
    expect(page.get_by_test_id("second-factor-needed")).to_have_count(0)

    # A teammate, then a role change.
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Role", exact=True).select_option("annotator")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("ada was added as annotator.")).to_be_visible()
    page.get_by_label("Role of ada").select_option("reviewer")
    page.get_by_role("button", name="Change role").nth(1).click()
    expect(page.get_by_text("ada is now reviewer.")).to_be_visible()
    assert Membership.objects.get(user__username="ada").role == "reviewer"

    # The audit log tells the story.
    page.get_by_role("link", name="audit log", exact=True).click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("member.role_changed")
    expect(page.locator("tbody")).to_contain_text("project.created")
    assert verify_chain().ok

    # An API token is shown once.
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("notebook")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("lop_")
    page.get_by_role("link", name="API tokens").click()
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("tbody")).to_contain_text("notebook")


@pytest.mark.django_db(transaction=True)
def test_pages_hold_no_inline_script_and_obey_csp(page: Page, live_server) -> None:
    """The CSP forbids inline script; a violation would show up as a console error."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    make_user("ada")

    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    for path in ("/", "/audit", "/tokens", "/password"):
        page.goto(f"{live_server.url}{path}")

    assert errors == []
