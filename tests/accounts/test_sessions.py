from __future__ import annotations

import json

import pytest
from django.test import Client

from labelop.accounts.models import User
from labelop.accounts.services import bootstrap_site_admin
from labelop.audit.models import AuditEvent
from labelop.projects.models import Sensitivity
from tests.conftest import PASSWORD, World, api_for, make_user


def _csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    return client, token


def _login(client: Client, csrf: str | None, username: str, password: str):
    headers = {"X-CSRFToken": csrf} if csrf else {}
    return client.post("/api/v1/auth/login", json.dumps({"username": username,
                       "password": password}), content_type="application/json", headers=headers)


def test_login_starts_a_session_and_is_audited(world: World) -> None:
    client, csrf = _csrf_client()

    response = _login(client, csrf, "owner", PASSWORD)

    assert response.status_code == 200
    assert response.json()["username"] == "owner"
    assert client.get("/api/v1/me").json()["username"] == "owner"
    event = AuditEvent.objects.get(action="auth.logged_in")
    assert (event.actor_name, event.ip) == ("owner", "127.0.0.1")


def test_login_without_csrf_token_is_refused(world: World) -> None:
    client, _ = _csrf_client()

    response = _login(client, None, "owner", PASSWORD)

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert client.get("/api/v1/me").status_code == 401
    assert not AuditEvent.objects.filter(action="auth.logged_in").exists()


def test_session_post_without_csrf_gets_403_and_changes_nothing(world: World) -> None:
    world.project.sensitivity = Sensitivity.STANDARD  # a password alone may act here
    world.project.save()
    client, csrf = _csrf_client()
    _login(client, csrf, "owner", PASSWORD)
    events = AuditEvent.objects.count()

    response = client.post(f"/api/v1/projects/{world.project.pk}/members",
                           json.dumps({"username": "outsider", "role": "annotator"}),
                           content_type="application/json")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert not world.project.memberships.filter(user__username="outsider").exists()
    assert AuditEvent.objects.count() == events
    with_token = client.post(f"/api/v1/projects/{world.project.pk}/members",
                             json.dumps({"username": "outsider", "role": "annotator"}),
                             content_type="application/json",
                             headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert with_token.status_code == 201


def test_wrong_password_is_refused_and_audited(world: World) -> None:
    client, csrf = _csrf_client()

    response = _login(client, csrf, "owner", "not the password")

    assert response.status_code == 401
    assert response.json()["code"] == "login_failed"
    assert AuditEvent.objects.filter(action="auth.login_failed", target="user:owner").count() == 1


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(world: World) -> None:
    client, csrf = _csrf_client()

    unknown = _login(client, csrf, "nobody", "whatever")
    wrong = _login(client, csrf, "owner", "whatever")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_repeated_failures_lock_the_login_even_with_the_right_password(world: World,
                                                                       settings) -> None:
    client, csrf = _csrf_client()
    statuses = [_login(client, csrf, "owner", f"guess {i}").status_code
                for i in range(settings.AXES_FAILURE_LIMIT)]

    locked = _login(client, csrf, "owner", PASSWORD)

    assert statuses[:-1] == [401] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert client.get("/api/v1/me").status_code == 401
    # The lock is recorded once, when it happens; knocking on a locked door writes nothing.
    assert AuditEvent.objects.filter(action="auth.locked_out").count() == 1
    assert _login(client, csrf, "owner", "again").status_code == 429
    assert AuditEvent.objects.filter(action="auth.locked_out").count() == 1
    # Another person from the same address is not locked out by someone else's guesses.
    assert _login(client, csrf, "reviewer", PASSWORD).status_code == 200


def test_logout_ends_the_session(world: World) -> None:
    client, csrf = _csrf_client()
    _login(client, csrf, "owner", PASSWORD)
    csrf = client.cookies["csrftoken"].value

    assert client.post("/api/v1/auth/logout", headers={"X-CSRFToken": csrf}).status_code == 204

    assert client.get("/api/v1/me").status_code == 401
    assert AuditEvent.objects.filter(action="auth.logged_out", actor_name="owner").exists()


def test_session_cookie_flags(world: World, settings) -> None:
    client, csrf = _csrf_client()
    _login(client, csrf, "owner", PASSWORD)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]

    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_passwords_are_hashed_with_argon2(db: None, settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = make_user("argon")
    assert user.password.startswith("argon2$argon2id$")
    assert PASSWORD not in user.password


def test_first_start_creates_one_site_admin_who_must_choose_a_password(db: None) -> None:
    username, password = bootstrap_site_admin()

    assert bootstrap_site_admin() is None  # only on an empty instance
    admin = User.objects.get(username=username)
    assert admin.is_site_admin
    assert admin.must_change_password
    client, csrf = _csrf_client()
    assert _login(client, csrf, username, password).json()["must_change_password"] is True
    blocked = client.get("/api/v1/projects")
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "password_change_required"
    csrf = client.cookies["csrftoken"].value

    changed = client.post("/api/v1/me/password", json.dumps({
        "current_password": password, "new_password": "a much better passphrase 42"}),
        content_type="application/json", headers={"X-CSRFToken": csrf})

    assert changed.status_code == 204
    assert client.get("/api/v1/projects").status_code == 200
    assert AuditEvent.objects.filter(action="password.changed", actor_name=username).exists()


@pytest.mark.parametrize(("new", "code"), [("short", "weak_password"),
                                           ("password1234", "weak_password")])
def test_weak_new_passwords_are_refused(world: World, new: str, code: str) -> None:
    client, csrf = _csrf_client()
    _login(client, csrf, "owner", PASSWORD)

    response = client.post("/api/v1/me/password", json.dumps({
        "current_password": PASSWORD, "new_password": new}), content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value})

    assert response.status_code == 422
    assert response.json()["code"] == code
    assert User.objects.get(username="owner").check_password(PASSWORD)


def test_unknown_usernames_are_not_kept_verbatim_in_the_audit_log(world: World) -> None:
    client, csrf = _csrf_client()

    _login(client, csrf, "my secret passphrase", "oops")

    event = AuditEvent.objects.get(action="auth.login_failed")
    assert "passphrase" not in event.target
    assert event.target.startswith("user:unknown#")


def test_deactivation_ends_open_sessions_for_good(world: World) -> None:
    client, csrf = _csrf_client()
    _login(client, csrf, "annotator", PASSWORD)
    admin = api_for(world.users["site_admin"])

    admin.patch("/users/annotator", {"is_active": False})
    admin.patch("/users/annotator", {"is_active": True})

    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("username", ["nul\u0000name", "tab\tname"])
def test_control_characters_in_a_login_are_a_4xx(world: World, username: str) -> None:
    client, csrf = _csrf_client()
    assert _login(client, csrf, username, "x").status_code == 422


def test_forwarded_for_is_ignored_without_a_trusted_proxy(world: World) -> None:
    client, csrf = _csrf_client()
    client.post("/api/v1/auth/login", json.dumps({"username": "owner", "password": PASSWORD}),
                content_type="application/json",
                headers={"X-CSRFToken": csrf, "X-Forwarded-For": "203.0.113.9"})
    assert AuditEvent.objects.get(action="auth.logged_in").ip == "127.0.0.1"


def test_forwarded_for_names_the_client_behind_one_trusted_proxy(world: World, settings
                                                                  ) -> None:
    from labelop.core.middleware import ClientAddressMiddleware

    settings.LABELOP_TRUSTED_PROXY_COUNT = 1
    seen = {}

    def app(request):
        seen["ip"] = request.META["REMOTE_ADDR"]

    ClientAddressMiddleware(app)(_request("198.51.100.1, 203.0.113.9"))
    assert seen["ip"] == "203.0.113.9"  # the proxy appended the peer it saw: rightmost
    ClientAddressMiddleware(app)(_request("not an address"))
    assert seen["ip"] == "127.0.0.1"


def _request(forwarded_for: str):
    from django.test import RequestFactory

    return RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded_for,
                                REMOTE_ADDR="127.0.0.1")
