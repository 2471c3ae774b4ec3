"""Server-rendered pages call the same services: same rules, same audit."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from labelop.accounts.models import ApiToken, User
from labelop.audit.models import AuditEvent
from labelop.projects.models import Membership, Project
from tests.conftest import PASSWORD, World, recovery_code


def _signed_in(username: str, *, second_factor: bool = True) -> Client:
    """Signed in on the login page; with a recovery code as the second factor unless told."""
    code = recovery_code(User.objects.get(username=username)) if second_factor else ""
    client = Client()
    response = client.post("/login", {"username": username, "password": PASSWORD, "otp": code})
    assert response.status_code == 302, response.content
    return client


def _all_sessions_text() -> str:
    from django.contrib.sessions.models import Session

    return "\n".join(str(s.get_decoded()) for s in Session.objects.all())


def test_pages_need_sign_in(db: None) -> None:
    for path in ("/", "/audit", "/tokens", "/users", "/projects/1"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login?next=")


def test_login_page_signs_in_and_follows_only_local_next(world: World) -> None:
    client = Client()
    local = client.post("/login", {"username": "owner", "password": PASSWORD,
                                   "next": "/audit"})
    assert local["Location"] == "/audit"
    other = Client().post("/login", {"username": "owner", "password": PASSWORD,
                                     "next": "https://evil.example/phish"})
    assert other["Location"] == "/"
    for hostile in ("//evil.example", "/\\evil.example", "\\\\evil.example",
                    "javascript:alert(1)", "/\t/evil.example", " //evil.example",
                    "https:evil.example", "///evil.example"):
        answer = Client().post("/login", {"username": "owner", "password": PASSWORD,
                                          "next": hostile})
        assert answer["Location"] == "/", hostile
    page = Client().get("/login?next=//evil.example").content.decode()
    assert "evil.example" not in page  # nor carried in the form's hidden field


def test_wrong_password_on_the_page_says_so(world: World) -> None:
    response = Client().post("/login", {"username": "owner", "password": "nope"})
    assert response.status_code == 401
    assert b"Wrong username or password." in response.content
    # An unknown name gets the same page: no telling which accounts exist.
    unknown = Client().post("/login", {"username": "nobody-here", "password": "nope"})
    assert unknown.status_code == 401
    token = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')  # fresh on every page
    assert token.sub(b"", unknown.content.replace(b"nobody-here", b"owner")) == token.sub(
        b"", response.content)


def test_project_list_shows_only_my_projects_and_creates_one(world: World) -> None:
    client = _signed_in("reviewer")
    page = client.get("/").content.decode()
    assert "Scans" in page
    assert "Other team" not in page

    response = client.post("/", {"name": "Plates", "description": "", "sensitivity": "local_only"})

    project = Project.objects.get(name="Plates")
    assert response["Location"] == f"/projects/{project.pk}"
    assert Membership.objects.get(project=project).user.username == "reviewer"


def test_owner_manages_members_on_the_project_page(world: World) -> None:
    client = _signed_in("owner")
    base = f"/projects/{world.project.pk}"
    assert "Add a member" in client.get(base).content.decode()

    client.post(f"{base}/members", {"username": "outsider", "role": "annotator"})
    client.post(f"{base}/members/outsider", {"role": "reviewer"})
    outsider = Membership.objects.filter(project=world.project, user__username="outsider")
    assert outsider.get().role == "reviewer"
    client.post(f"{base}/members/outsider/remove")

    assert not outsider.exists()
    actions = list(AuditEvent.objects.filter(target="user:outsider")
                   .values_list("action", flat=True))
    assert actions == ["member.added", "member.role_changed", "member.removed"]


def test_annotator_sees_no_member_controls_and_cannot_post_them(world: World) -> None:
    client = _signed_in("annotator")
    base = f"/projects/{world.project.pk}"
    page = client.get(base).content.decode()
    assert "Add a member" not in page
    assert "Members" not in page

    response = client.post(f"{base}/members", {"username": "outsider", "role": "owner"},
                           follow=True)

    assert "Your role in this project does not allow member.add" in response.content.decode()
    assert not Membership.objects.filter(project=world.project, user__username="outsider").exists()


def test_outsider_gets_404_for_a_project_page(world: World) -> None:
    assert _signed_in("outsider").get(f"/projects/{world.project.pk}").status_code == 404


def test_token_page_shows_the_secret_exactly_once(world: World) -> None:
    client = _signed_in("owner")
    created = client.post("/tokens", {"name": "laptop", "project": str(world.project.pk)})

    again = client.get("/tokens").content.decode()

    raw = re.search(r'id="new-token">(lop_[^<]+)<', created.content.decode()).group(1)
    assert raw not in again
    assert raw not in _all_sessions_text()
    assert ApiToken.objects.get(name="laptop").project_id == world.project.pk


def test_users_page_is_for_site_admins(world: World) -> None:
    assert _signed_in("owner").get("/users").status_code == 403
    admin = _signed_in("site_admin")

    page = admin.post("/users", {"username": "newbie"}).content.decode()

    password = re.search(r'id="new-password">([^<]+)<', page).group(1)
    assert password not in _all_sessions_text()
    newbie = Client()
    signed_in = newbie.post("/login", {"username": "newbie", "password": password})
    assert signed_in["Location"] == "/password"
    assert newbie.get("/")["Location"] == "/password"


def test_password_page_changes_the_password(world: World) -> None:
    client = _signed_in("owner")
    client.post("/password", {"current_password": PASSWORD,
                              "new_password": "another long passphrase 7",
                              "repeat_password": "another long passphrase 7"})
    assert User.objects.get(username="owner").check_password("another long passphrase 7")
    assert client.get("/").status_code == 200  # the session survived the change


@pytest.mark.parametrize("query", ["", "?action=member.added", "?since=2026-01-01",
                                   "?project=abc", "?since=never"])
def test_audit_page_filters(world: World, query: str) -> None:
    response = _signed_in("owner").get(f"/audit{query}")
    assert response.status_code in (200, 422)
    if "abc" in query or "never" in query:
        assert response.status_code == 422


def test_logout_page_ends_the_session(world: World) -> None:
    client = _signed_in("owner")
    client.post("/logout")
    assert client.get("/")["Location"].startswith("/login")


def test_audit_page_verifies_the_chain_on_request(world: World) -> None:
    admin = _signed_in("site_admin")
    assert "Verify the chain" in admin.get("/audit").content.decode()
    assert "chain: <strong>verified</strong>" in admin.get("/audit?verify=1").content.decode()
    owner = _signed_in("owner")
    assert "Verify the chain" not in owner.get("/audit").content.decode()
    assert owner.get("/audit?verify=1").status_code == 403
