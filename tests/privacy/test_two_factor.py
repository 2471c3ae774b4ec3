"""2FA where the policy requires it: members without a second factor reach only the project's
note and readiness (403 two_factor_required elsewhere), sign-in asks for the code once one is
enrolled, and tokens carry the second factor of the session that made them."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from labelop.audit.models import AuditEvent
from labelop.projects.models import Sensitivity
from tests.conftest import PASSWORD, World, api_for, recovery_code, session_api
from tests.pages.test_pages import _signed_in


def _enrolled(username: str) -> TOTPDevice:
    from labelop.accounts.models import User

    return TOTPDevice.objects.create(user=User.objects.get(username=username), name="app",
                                     confirmed=True)


def _now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _login(username: str, otp: str = "") -> tuple[Client, object]:
    client = Client()
    response = client.post("/api/v1/auth/login", json.dumps(
        {"username": username, "password": PASSWORD, "otp": otp}),
        content_type="application/json")
    return client, response


def _project_paths(world: World) -> dict[str, str]:
    p, t = world.project.pk, world.tasks[0].pk
    return {"tasks": f"/projects/{p}/tasks", "task": f"/tasks/{t}",
            "annotation": f"/tasks/{t}/annotation", "members": f"/projects/{p}/members",
            "labels": f"/projects/{p}/labels", "next": f"/projects/{p}/tasks/next"}


@pytest.mark.parametrize("who", ["owner", "reviewer", "annotator"])
def test_without_a_second_factor_members_get_403_telling_them_to_enrol(labeled: World,
                                                                        who: str) -> None:
    api = api_for(labeled.users[who], second_factor=False)
    reachable = 0
    for name, path in _project_paths(labeled).items():
        response = api.get(path)
        assert response.status_code == 403, (name, response.content)
        body = response.json()
        if body["code"] == "forbidden":  # what their role may not do anyway (members list)
            continue
        assert body["code"] == "two_factor_required", (name, body)
        assert "/two-factor" in body["detail"]
        assert "Enrol" in body["detail"]
        reachable += 1
    assert reachable >= 3
    # The project, and why it is not ready, stay readable: setting up starts before enrolment.
    assert api.get(f"/projects/{labeled.project.pk}").status_code == 200
    assert api.get(f"/projects/{labeled.project.pk}/note").status_code in {200, 404}


def test_the_same_people_with_a_second_factor_get_through(labeled: World) -> None:
    api = api_for(labeled.users["annotator"])
    assert api.get(f"/tasks/{labeled.tasks[0].pk}").status_code == 200
    assert api.get(f"/projects/{labeled.project.pk}/tasks").json()["items"]


def test_an_unassigned_task_stays_not_found_not_forbidden(labeled: World) -> None:
    api = api_for(labeled.users["annotator"], second_factor=False)
    assert api.get(f"/tasks/{labeled.tasks[1].pk}").status_code == 404
    assert api.get(f"/tasks/{labeled.tasks[0].pk}").status_code == 403
    assert api_for(labeled.users["outsider"], second_factor=False).get(
        f"/tasks/{labeled.tasks[0].pk}").status_code == 404


def test_standard_projects_need_no_second_factor_until_tightened(labeled: World) -> None:
    labeled.project.sensitivity = Sensitivity.STANDARD
    labeled.project.save()
    api = api_for(labeled.users["annotator"], second_factor=False)
    assert api.get(f"/tasks/{labeled.tasks[0].pk}").status_code == 200

    owner = api_for(labeled.users["owner"])
    tightened = owner.call("PUT", f"/projects/{labeled.project.pk}/policy",
                           {"controls": {"two_factor_required": True}})
    assert tightened.status_code == 200, tightened.content

    response = api.get(f"/tasks/{labeled.tasks[0].pk}")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required"


def test_sign_in_asks_for_the_code_once_enrolled(labeled: World) -> None:
    device = _enrolled("annotator")
    _, missing = _login("annotator")
    assert missing.status_code == 401
    assert missing.json()["code"] == "otp_required"
    _, wrong = _login("annotator", "000000" if _now(device) != "000000" else "111111")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "otp_wrong"
    failed = AuditEvent.objects.filter(action="auth.login_failed").latest("pk")
    assert "second factor" in json.dumps(failed.details)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0,
                                                   throttling_failure_timestamp=None)

    client, ok = _login("annotator", _now(device))

    assert ok.status_code == 200, ok.content
    assert client.get(f"/api/v1/tasks/{labeled.tasks[0].pk}").status_code == 200
    event = AuditEvent.objects.filter(action="auth.logged_in").latest("pk")
    assert json.loads(event.details)["method"] == "password+totp"


def test_a_recovery_code_signs_in_once(labeled: World) -> None:
    _enrolled("annotator")
    code = recovery_code(labeled.users["annotator"])
    client, first = _login("annotator", code)
    assert first.status_code == 200
    assert client.get(f"/api/v1/tasks/{labeled.tasks[0].pk}").status_code == 200
    _, again = _login("annotator", code)
    assert again.status_code == 401


def test_a_password_only_session_is_refused_and_enrolling_in_it_opens_the_project(
        labeled: World) -> None:
    me = session_api(labeled.users["annotator"], second_factor=False)
    task = f"/tasks/{labeled.tasks[0].pk}"
    assert me.get(task).json()["code"] == "two_factor_required"

    me.post("/me/totp")
    device = TOTPDevice.objects.get(user=labeled.users["annotator"], confirmed=False)
    assert me.post("/me/totp/confirm", {"code": _now(device)}).status_code == 200

    assert me.get(task).status_code == 200


def test_tokens_carry_the_second_factor_of_the_session_that_made_them(labeled: World) -> None:
    task = f"/tasks/{labeled.tasks[0].pk}"
    for second_factor, status in ((False, 403), (True, 200)):
        me = session_api(labeled.users["annotator"], second_factor=second_factor)
        raw = me.post("/tokens", {"name": "script"}).json()["token"]
        with_token = api_for(None)
        with_token.headers = {"Authorization": f"Bearer {raw}"}
        assert with_token.get(task).status_code == status


def test_the_project_page_says_to_enrol_and_hides_the_images(labeled: World) -> None:
    client = _signed_in("owner", second_factor=False)
    html = client.get(f"/projects/{labeled.project.pk}").content.decode()
    assert 'data-testid="second-factor-needed"' in html
    assert 'href="/two-factor"' in html
    assert "<h2>Images</h2>" not in html
    page = _signed_in("owner").get(f"/projects/{labeled.project.pk}").content.decode()
    assert "second-factor-needed" not in page
    assert "<h2>Images</h2>" in page


def test_the_enrolment_page_shows_a_qr_code_then_the_recovery_codes_once(world: World) -> None:
    client = _signed_in("reviewer", second_factor=False)
    assert "Set up an authenticator app" in client.get("/two-factor").content.decode()

    started = client.post("/two-factor", {"step": "begin"}, follow=True).content.decode()

    assert "<svg" in started
    assert "qrline" in started
    device = TOTPDevice.objects.get(user=world.users["reviewer"], confirmed=False)
    wrong = client.post("/two-factor", {"step": "confirm", "code": "12"}, follow=True)
    assert "not the one the app shows" in wrong.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0,
                                                   throttling_failure_timestamp=None)
    done = client.post("/two-factor", {"step": "confirm", "code": _now(device)}).content.decode()
    assert done.count("<li><code>") == 10
    later = client.get("/two-factor").content.decode()
    assert "<li><code>" not in later
    assert "This session was signed in with it." in later


def test_before_the_second_factor_readiness_counts_people_and_the_data_path_is_closed(
        world: World, data_dir) -> None:
    owner = api_for(world.users["owner"], second_factor=False)
    checks = owner.get(f"/projects/{world.project.pk}/readiness").json()["checks"]
    two_factor = next(c for c in checks if c["name"] == "two_factor")

    assert two_factor["reason"] == "Members without a second factor: 4 member(s)."
    assert owner.get(f"/projects/{world.project.pk}/data-path").json()["code"] == (
        "two_factor_required")
    named = api_for(world.users["owner"]).get(f"/projects/{world.project.pk}/readiness").json()
    assert "annotator" in next(c for c in named["checks"] if c["name"] == "two_factor")["reason"]


def test_lists_across_projects_keep_projects_that_need_no_second_factor(world: World) -> None:
    # The outsider owns a standard project; a password-only token still reads its audit.
    outsider = api_for(world.users["outsider"], second_factor=False)
    outsider.post(f"/projects/{world.other_project.pk}/members",
                  {"username": "target", "role": "annotator"})

    events = outsider.get("/audit").json()["items"]

    assert any(e["action"] == "member.added" for e in events)
