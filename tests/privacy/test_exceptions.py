from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from labelop.audit.models import AuditEvent
from labelop.permissions import Role
from labelop.privacy.models import PolicyException
from labelop.projects.models import Membership
from tests.conftest import World, api_for, make_user


def _second_owner(world: World):
    boss = make_user("boss")
    Membership.objects.create(project=world.project, user=boss, role=Role.OWNER)
    return api_for(boss)


def _ask(world: World, action: str):
    return api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/exceptions",
                                              {"action": action, "reason": "pilot with a vendor"})


def test_four_eyes_single_use(world: World) -> None:
    owner, boss = api_for(world.users["owner"]), _second_owner(world)
    policy = f"/projects/{world.project.pk}/policy"
    assert owner.call("PUT", policy, {"sensitivity": "standard"}).status_code == 409
    asked = _ask(world, "profile:standard")
    assert asked.status_code == 201, asked.content
    e = asked.json()["id"]
    own = owner.post(f"/exceptions/{e}/approve")
    assert own.status_code == 403
    assert own.json()["code"] == "four_eyes"
    assert owner.call("PUT", policy, {"sensitivity": "standard"}).status_code == 409  # unapproved
    approved = boss.post(f"/exceptions/{e}/approve")
    assert approved.json()["approved_by"] == "boss"
    assert boss.post(f"/exceptions/{e}/approve").json()["code"] == "already_approved"
    moved = owner.call("PUT", policy, {"sensitivity": "standard"})
    assert moved.status_code == 200, moved.content
    assert moved.json()["sensitivity"] == "standard"
    assert PolicyException.objects.get(pk=e).used_at is not None
    # Used once: back to restricted, and down again is refused.
    owner.call("PUT", policy, {"sensitivity": "restricted"})
    assert owner.call("PUT", policy, {"sensitivity": "standard"}).status_code == 409
    actions = list(AuditEvent.objects.filter(action__startswith="exception.")
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["exception.requested", "exception.approved", "exception.used"]


def test_expired_exceptions_do_nothing(world: World) -> None:
    owner, boss = api_for(world.users["owner"]), _second_owner(world)
    e = _ask(world, "profile:standard").json()["id"]
    boss.post(f"/exceptions/{e}/approve")
    PolicyException.objects.filter(pk=e).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert owner.call("PUT", f"/projects/{world.project.pk}/policy",
                      {"sensitivity": "standard"}).status_code == 409
    late = _ask(world, "profile:standard").json()["id"]
    PolicyException.objects.filter(pk=late).update(expires_at=timezone.now())
    assert boss.post(f"/exceptions/{late}/approve").json()["code"] == "exception_expired"


def test_loosening_a_control_back_to_the_profile(world: World) -> None:
    owner, boss = api_for(world.users["owner"]), _second_owner(world)
    policy = f"/projects/{world.project.pk}/policy"
    owner.call("PUT", policy, {"controls": {"exports_with_originals": "never"}})
    e = _ask(world, "loosen:exports_with_originals=by_exception").json()["id"]
    boss.post(f"/exceptions/{e}/approve")
    back = owner.call("PUT", policy, {"controls": {"exports_with_originals": "by_exception"}})
    assert back.status_code == 200, back.content
    below = owner.call("PUT", policy, {"controls": {"exports_with_originals": "owner"}})
    assert below.json()["code"] == "below_profile"


def test_what_may_be_asked_and_by_whom(world: World) -> None:
    assert _ask(world, "export everything").json()["code"] == "unknown_exception_action"
    assert _ask(world, "loosen:two_factor_required=maybe").status_code == 422
    assert _ask(world, "loosen:two_factor_required=false").status_code == 201
    for who, status in (("reviewer", 403), ("annotator", 403), ("outsider", 404)):
        assert api_for(world.users[who]).post(
            f"/projects/{world.project.pk}/exceptions",
            {"action": "profile:standard", "reason": "x"}).status_code == status


def test_the_exceptions_page(world: World) -> None:
    from tests.pages.test_pages import _signed_in

    _second_owner(world)
    url = f"/projects/{world.project.pk}/exceptions"
    owner = _signed_in("owner")
    asked = owner.post(url, {"action": "profile:standard", "reason": "vendor pilot"},
                       follow=True).content.decode()
    assert "another owner must approve it" in asked
    assert "waits for another owner" in asked
    e = PolicyException.objects.get()
    boss = _signed_in("boss")
    assert f"Approve #{e.pk}" in boss.get(url).content.decode()
    done = boss.post(url, {"approve": str(e.pk)}, follow=True).content.decode()
    assert "Approved: profile:standard." in done
    refused = owner.post(url, {"action": "export all", "reason": "x"}, follow=True)
    assert "Ask for &#x27;profile:" in refused.content.decode()  # the refusal, as a message
    assert PolicyException.objects.count() == 1
    assert _signed_in("reviewer").get(url).status_code == 403
