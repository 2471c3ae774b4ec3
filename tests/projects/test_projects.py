from __future__ import annotations

from labelop.audit.models import AuditEvent
from labelop.projects.models import Membership, Project
from tests.conftest import World, api_for


def test_creator_becomes_the_only_owner_and_both_are_audited(world: World) -> None:
    reviewer = api_for(world.users["reviewer"])

    response = reviewer.post("/projects", {"name": "Faces", "sensitivity": "local_only",
                                           "labels": [{"name": "face", "kind": "bbox"}]})

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["sensitivity"], body["status"], body["my_role"]) == (
        "Faces", "local_only", "draft", "owner")
    assert body["labels"] == [
        {"name": "face", "kind": "bbox", "color": "#1f77b4", "attributes": []}]
    members = list(Membership.objects.filter(project_id=body["id"]).values_list(
        "user__username", "role"))
    assert members == [("reviewer", "owner")]
    actions = list(AuditEvent.objects.filter(project_id=body["id"]).order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["project.created", "member.added"]


def test_site_admin_sees_no_project_data_without_membership(world: World) -> None:
    admin = api_for(world.users["site_admin"])

    assert admin.get("/projects").json() == {"items": [], "next": None}
    assert admin.get(f"/projects/{world.project.pk}").status_code == 404
    assert admin.get(f"/projects/{world.project.pk}/members").status_code == 404
    assert admin.get(f"/audit?project={world.project.pk}").status_code == 404
    assert [e for e in admin.get("/audit").json()["items"] if e["project"]] == []


def test_project_list_paginates_with_a_cursor(world: World) -> None:
    owner = api_for(world.users["owner"])
    for i in range(5):
        owner.post("/projects", {"name": f"P{i}", "sensitivity": "standard"})

    first = owner.get("/projects?limit=4").json()
    second = owner.get(f"/projects?limit=4&cursor={first['next']}").json()

    names = [p["name"] for p in first["items"] + second["items"]]
    assert names == ["Scans", "P0", "P1", "P2", "P3", "P4"]
    assert second["next"] is None


def test_member_lifecycle_is_audited_with_before_and_after(world: World) -> None:
    owner = api_for(world.users["owner"])
    base = f"/projects/{world.project.pk}/members"

    assert owner.post(base, {"username": "outsider", "role": "annotator"}).status_code == 201
    changed = owner.patch(f"{base}/outsider", {"role": "reviewer"})
    removed = owner.delete(f"{base}/outsider")

    assert changed.json()["role"] == "reviewer"
    assert removed.status_code == 204
    events = list(AuditEvent.objects.filter(project=world.project, target="user:outsider")
                  .order_by("seq").values_list("action", "details"))
    assert events == [
        ("member.added", '{"role":"annotator"}'),
        ("member.role_changed", '{"after":"reviewer","before":"annotator"}'),
        ("member.removed", '{"role":"reviewer"}'),
    ]


def test_one_role_per_person_per_project(world: World) -> None:
    response = api_for(world.users["owner"]).post(
        f"/projects/{world.project.pk}/members", {"username": "reviewer", "role": "owner"})

    assert response.status_code == 409
    assert response.json()["code"] == "already_member"
    membership = Membership.objects.get(project=world.project, user__username="reviewer")
    assert membership.role == "reviewer"


def test_the_last_owner_cannot_leave_or_be_demoted(world: World) -> None:
    owner = api_for(world.users["owner"])
    base = f"/projects/{world.project.pk}/members"
    events = AuditEvent.objects.count()

    demote = owner.patch(f"{base}/owner", {"role": "reviewer"})
    leave = owner.delete(f"{base}/owner")

    assert (demote.status_code, leave.status_code) == (409, 409)
    assert demote.json()["code"] == leave.json()["code"] == "last_owner"
    assert Membership.objects.get(project=world.project, user__username="owner").role == "owner"
    assert AuditEvent.objects.count() == events
    # With a second owner, the first may step down.
    owner.patch(f"{base}/reviewer", {"role": "owner"})
    assert owner.patch(f"{base}/owner", {"role": "reviewer"}).status_code == 200


def test_adding_an_unknown_user_says_so(world: World) -> None:
    response = api_for(world.users["owner"]).post(
        f"/projects/{world.project.pk}/members", {"username": "ghost", "role": "annotator"})
    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


def test_removed_member_loses_access_at_once(world: World) -> None:
    annotator = api_for(world.users["annotator"])
    assert annotator.get(f"/projects/{world.project.pk}").status_code == 200

    api_for(world.users["owner"]).delete(f"/projects/{world.project.pk}/members/annotator")

    assert annotator.get(f"/projects/{world.project.pk}").status_code == 404


def test_profile_can_be_tightened_but_not_loosened(world: World) -> None:
    owner = api_for(world.users["owner"])
    path = f"/projects/{world.project.pk}"

    loosen = owner.patch(path, {"sensitivity": "standard"})
    tighten = owner.patch(path, {"sensitivity": "local_only"})

    assert loosen.status_code == 409
    assert loosen.json()["code"] == "policy_loosening_refused"
    assert tighten.json()["sensitivity"] == "local_only"
    assert Project.objects.get(pk=world.project.pk).sensitivity == "local_only"
    event = AuditEvent.objects.get(action="project.updated")
    assert event.details == '{"sensitivity":{"after":"local_only","before":"restricted"}}'


def test_project_list_costs_the_same_queries_for_1_or_30_projects(
        world: World, django_assert_max_num_queries) -> None:
    owner = api_for(world.users["owner"])
    owner.get("/projects")  # warm up: token lookup cache, content types
    for i in range(30):
        owner.post("/projects", {"name": f"P{i}", "sensitivity": "standard"})

    with django_assert_max_num_queries(4):  # token, page, roles (+ last-used touch)
        response = owner.get("/projects?limit=100")

    assert len(response.json()["items"]) == 31
    assert {p["my_role"] for p in response.json()["items"]} == {"owner"}
