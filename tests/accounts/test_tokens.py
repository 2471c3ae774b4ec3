from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from labelop.accounts.models import ApiToken
from labelop.audit.models import AuditEvent
from tests.conftest import Api, World, api_for, session_api


def _all_text_in_database() -> str:
    """Every value of every column of the token and audit tables, as text."""
    with connection.cursor() as cursor:
        rows = []
        for table in ("accounts_apitoken", "audit_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            rows += [str(r) for r in cursor.fetchall()]
    return "\n".join(rows)


def test_token_is_shown_once_and_stored_only_as_a_hash(world: World) -> None:
    owner = session_api(world.users["owner"])

    created = owner.post("/tokens", {"name": "laptop", "expires_in_days": 7})

    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith("lop_")
    assert len(raw) > 40
    assert raw not in _all_text_in_database()
    token = ApiToken.objects.get(pk=created.json()["id"])
    assert token.digest != raw
    assert len(token.digest) == 64
    listed = owner.get("/tokens").json()["items"]
    assert all("token" not in t for t in listed)
    assert Api(raw).get("/me").json()["username"] == "owner"
    assert AuditEvent.objects.filter(action="token.created", target=f"token:{token.pk}").exists()


def test_revoked_token_stops_working(world: World) -> None:
    owner = session_api(world.users["owner"])
    created = owner.post("/tokens", {"name": "ci"}).json()

    assert owner.delete(f"/tokens/{created['id']}").status_code == 204

    assert Api(created["token"]).get("/me").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1


def test_expired_token_stops_working(world: World) -> None:
    created = session_api(world.users["owner"]).post("/tokens", {"name": "ci"}).json()
    ApiToken.objects.filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1))

    response = Api(created["token"]).get("/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_tokens_expire_by_default(world: World, settings) -> None:
    created = session_api(world.users["owner"]).post("/tokens", {"name": "ci"}).json()
    token = ApiToken.objects.get(pk=created["id"])
    lifetime = token.expires_at - token.created_at
    assert lifetime == timedelta(days=settings.LABELOP_TOKEN_DEFAULT_DAYS)


def test_people_cannot_revoke_or_see_each_others_tokens(world: World) -> None:
    mine = session_api(world.users["owner"]).post("/tokens", {"name": "mine"}).json()
    other = api_for(world.users["reviewer"])

    assert other.delete(f"/tokens/{mine['id']}").status_code == 404
    assert mine["id"] not in [t["id"] for t in other.get("/tokens").json()["items"]]
    assert Api(mine["token"]).get("/me").status_code == 200


def test_project_scoped_token_sees_only_its_project(world: World) -> None:
    from labelop.permissions import Role
    from labelop.projects.models import Membership

    Membership.objects.create(project=world.other_project, user=world.users["owner"],
                              role=Role.OWNER)
    scoped = api_for(world.users["owner"], project=world.project)

    listed = [p["id"] for p in scoped.get("/projects").json()["items"]]
    assert listed == [world.project.pk]
    assert scoped.get(f"/projects/{world.other_project.pk}").status_code == 404
    assert scoped.get(f"/projects/{world.project.pk}").status_code == 200
    assert scoped.post("/projects", {"name": "x", "sensitivity": "standard"}).status_code == 403
    widen = scoped.post("/tokens", {"name": "wider"})
    assert widen.status_code == 403
    assert widen.json()["code"] == "session_required"


def test_token_cannot_be_scoped_to_a_project_one_is_not_in(world: World) -> None:
    response = session_api(world.users["reviewer"]).post(
        "/tokens", {"name": "x", "project": world.other_project.pk})
    assert response.status_code == 404


def test_deactivated_users_tokens_stop_working(world: World) -> None:
    created = session_api(world.users["annotator"]).post("/tokens", {"name": "x"}).json()

    response = api_for(world.users["site_admin"]).patch("/users/annotator", {"is_active": False})

    assert response.status_code == 200
    assert Api(created["token"]).get("/me").status_code == 401


def test_token_last_use_is_recorded(world: World) -> None:
    created = session_api(world.users["owner"]).post("/tokens", {"name": "x"}).json()
    Api(created["token"]).get("/me")
    assert ApiToken.objects.get(pk=created["id"]).last_used_at is not None


def test_a_token_cannot_mint_tokens(world: World) -> None:
    """A leaked token must not outlive its revocation through a child token."""
    token = api_for(world.users["owner"])
    before = ApiToken.objects.count()

    response = token.post("/tokens", {"name": "child", "expires_in_days": 3650})

    assert response.status_code == 403
    assert response.json()["code"] == "session_required"
    assert ApiToken.objects.count() == before


def test_logout_needs_a_session(world: World) -> None:
    response = api_for(world.users["owner"]).post("/auth/logout")
    assert response.status_code == 401
    assert not AuditEvent.objects.filter(action="auth.logged_out").exists()
