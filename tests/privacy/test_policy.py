from __future__ import annotations

import json

import pytest

from labelop.audit.models import AuditEvent
from labelop.privacy.profiles import PROFILES, policy_of
from labelop.projects.models import Sensitivity
from labelop.storage.models import Encryption, StorageLocation
from tests.conftest import World, api_for


def _policy(world: World, who: str = "owner", project=None) -> str:
    return f"/projects/{(project or world.project).pk}/policy"


def _controls(body: dict) -> dict:
    return {c["name"]: c["value"] for c in body["controls"]}


@pytest.mark.parametrize("sensitivity", list(Sensitivity))
def test_each_profile_reads_back_as_its_table_row(world: World, sensitivity: Sensitivity
                                                  ) -> None:
    world.project.sensitivity = sensitivity
    world.project.save()
    body = api_for(world.users["annotator"]).get(_policy(world)).json()
    assert body["sensitivity"] == sensitivity
    assert _controls(body) == PROFILES[sensitivity].controls() | (
        {"review_required": True} if sensitivity == Sensitivity.STANDARD else {})
    assert all(c["description"] for c in body["controls"])


def test_owners_tighten_controls_and_it_is_enforced(world: World, data_dir) -> None:
    standard = world.other_project  # owned by the outsider
    owner = api_for(world.users["outsider"])
    plain = StorageLocation.objects.create(name="plain", kind="local", encryption=Encryption.NONE,
                                           params={"path": str(data_dir / "plain")})
    assert owner.call("PUT", f"/projects/{standard.pk}/storage", {"location": "plain"}
                      ).status_code == 200  # standard allows unencrypted storage
    response = owner.call("PUT", _policy(world, project=standard),
                          {"controls": {"storage_encrypted": True,
                                        "exports_with_originals": "never"}})
    assert response.status_code == 200, response.content
    tightened = {c["name"] for c in response.json()["controls"] if c["tightened"]}
    assert tightened == {"storage_encrypted", "exports_with_originals", "review_required"}
    refused = owner.call("PUT", f"/projects/{standard.pk}/storage", {"location": plain.name})
    assert refused.status_code == 422
    assert "encrypted at rest" in refused.json()["detail"]
    event = AuditEvent.objects.filter(action="policy.updated").get()
    assert json.loads(event.details) == {
        "storage_encrypted": {"before": False, "after": True},
        "exports_with_originals": {"before": "owner", "after": "never"}}


def test_loosening_is_refused(world: World) -> None:
    owner = api_for(world.users["owner"])  # a restricted project
    for body, code in (({"controls": {"two_factor_required": False}}, "below_profile"),
                       ({"controls": {"external_models_allowed": True}}, "below_profile"),
                       ({"controls": {"exports_with_originals": "owner"}}, "below_profile"),
                       ({"sensitivity": "standard"}, "policy_loosening_refused")):
        response = owner.call("PUT", _policy(world), body)
        assert response.status_code == 409, body
        assert response.json()["code"] == code
    assert owner.call("PUT", _policy(world), {"controls": {"views_audited": False}}
                      ).json()["code"] == "invalid_control_value"
    assert owner.call("PUT", _policy(world), {"controls": {"telemetry": True}}
                      ).json()["code"] == "unknown_control"
    assert not AuditEvent.objects.filter(action="policy.updated").exists()


def test_moving_to_a_stricter_profile_keeps_only_real_tightenings(world: World) -> None:
    owner = api_for(world.users["owner"])
    owner.call("PUT", _policy(world), {"controls": {"exports_with_originals": "never"}})
    moved = owner.call("PUT", _policy(world), {"sensitivity": "local_only"})
    assert moved.json()["sensitivity"] == "local_only"
    world.project.refresh_from_db()
    assert world.project.policy == {}  # local_only says "never" itself
    assert policy_of(world.project).storage_local_or_customer_key is True


def test_only_owners_change_the_policy(world: World) -> None:
    for who, status in (("reviewer", 403), ("annotator", 403), ("outsider", 404)):
        assert api_for(world.users[who]).call(
            "PUT", _policy(world), {"controls": {"note_required": True}}).status_code == status
