from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from labelop.audit.models import AuditEvent
from labelop.cli import main
from labelop.core import append_only
from labelop.permissions import Role
from labelop.projects.models import Membership, Status
from labelop.storage.models import Encryption, StorageLocation
from tests.conftest import World, api_for, make_user
from tests.privacy.test_note import ANSWERS


def _checks(world: World, who: str = "owner") -> dict[str, str]:
    body = api_for(world.users[who]).get(f"/projects/{world.project.pk}/readiness").json()
    return {c["name"]: c["status"] for c in body["checks"]} | {"ready": body["ready"]}


def _make_ready(world: World) -> None:
    """Every check passes: a note, and a second factor for every member."""
    api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/note", ANSWERS)
    for m in Membership.objects.filter(project=world.project):
        TOTPDevice.objects.create(user=m.user, name="phone", confirmed=True)


def test_a_new_restricted_project_is_not_ready(world: World, data_dir) -> None:
    found = _checks(world, "reviewer")  # owners and reviewers read it
    assert found == {"operating_note": "fail", "owner_and_reviewer": "pass",
                     "least_privilege": "pass", "two_factor": "fail", "storage": "pass",
                     "external_models": "pass", "audit_chain": "pass", "ready": False}
    _make_ready(world)
    assert _checks(world)["ready"] is True


def test_each_check_fails_alone(world: World, data_dir) -> None:
    _make_ready(world)
    owner = api_for(world.users["owner"])
    p = world.project.pk

    # A policy change after the note makes the note stale.
    owner.call("PUT", f"/projects/{p}/policy", {"controls": {"exports_with_originals": "never"}})
    assert _checks(world)["operating_note"] == "fail"
    owner.post(f"/projects/{p}/note", {**ANSWERS, "escalation": "Call the DPO."})
    assert _checks(world)["operating_note"] == "pass"

    # No reviewer left.
    Membership.objects.filter(project=world.project, role=Role.REVIEWER).update(
        role=Role.ANNOTATOR)
    assert _checks(world)["owner_and_reviewer"] == "fail"
    Membership.objects.filter(project=world.project, user__username="reviewer").update(
        role=Role.REVIEWER)

    # A member without a second factor.
    TOTPDevice.objects.filter(user__username="annotator").update(confirmed=False)
    body = owner.get(f"/projects/{p}/readiness").json()
    two = next(c for c in body["checks"] if c["name"] == "two_factor")
    assert (two["status"], two["reason"]) == ("fail",
                                             "Members without a second factor: annotator.")
    TOTPDevice.objects.filter(user__username="annotator").update(confirmed=True)

    # Storage the policy does not allow (set behind the service's back).
    plain = StorageLocation.objects.create(name="plain", kind="local",
                                           encryption=Encryption.NONE,
                                           params={"path": str(data_dir / "plain")})
    world.project.storage_location = plain
    world.project.save()
    assert _checks(world)["storage"] == "fail"
    world.project.storage_location = None
    world.project.save()

    # A broken audit chain.
    append_only.uninstall(connection, "audit_auditevent")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET target = 'forged' WHERE seq = 1")
    append_only.install(connection, "audit_auditevent")
    assert _checks(world)["audit_chain"] == "fail"


def test_over_permissioned_accounts_warn(world: World, data_dir) -> None:
    long_ago = timezone.now() - timedelta(days=40)
    Membership.objects.filter(project=world.project).update(added_at=long_ago)
    body = api_for(world.users["owner"]).get(f"/projects/{world.project.pk}/readiness").json()
    check = next(c for c in body["checks"] if c["name"] == "least_privilege")
    assert check["status"] == "warn"
    assert "Idle for 30 days: annotator, owner, reviewer, target" in check["reason"]
    assert "Owners who did nothing only an owner may in 30 days: owner" in check["reason"]
    assert api_for(world.users["annotator"]).get(
        f"/projects/{world.project.pk}/readiness").status_code == 403  # it names members
    for n in range(3):
        Membership.objects.create(project=world.project, user=make_user(f"boss{n}"),
                                  role=Role.OWNER)
    again = api_for(world.users["owner"]).get(f"/projects/{world.project.pk}/readiness").json()
    assert "4 owners, more than 3" in next(
        c for c in again["checks"] if c["name"] == "least_privilege")["reason"]


def test_activation_waits_for_readiness(world: World, data_dir) -> None:
    owner = api_for(world.users["owner"])
    p = world.project.pk
    refused = owner.post(f"/projects/{p}/activate")
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_ready"
    assert "There is no operating note yet." in refused.json()["detail"]
    assert AuditEvent.objects.filter(action="project.activation_refused").exists()
    assert api_for(world.users["reviewer"]).post(f"/projects/{p}/activate").status_code == 403
    _make_ready(world)
    done = owner.post(f"/projects/{p}/activate")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == Status.ACTIVE
    assert AuditEvent.objects.filter(action="project.activated").exists()
    assert owner.post(f"/projects/{p}/activate").json()["code"] == "not_a_draft"


def test_the_cli_prints_the_checks(world: World, data_dir) -> None:
    result = CliRunner().invoke(main, ["readiness", str(world.project.pk)])
    assert result.exit_code == 1
    assert "FAIL  operating_note: There is no operating note yet." in result.output
    _make_ready(world)
    assert CliRunner().invoke(main, ["readiness", str(world.project.pk)]).exit_code == 0


def test_the_project_page_shows_readiness_and_activates(world: World, data_dir) -> None:
    from tests.pages.test_pages import _signed_in

    owner = _signed_in("owner")
    page = owner.get(f"/projects/{world.project.pk}").content.decode()
    assert 'data-testid="readiness"' in page
    assert "There is no operating note yet." in page
    refused = owner.post(f"/projects/{world.project.pk}/activate", follow=True)
    assert "Not ready:" in refused.content.decode()
    _make_ready(world)
    done = owner.post(f"/projects/{world.project.pk}/activate", follow=True).content.decode()
    assert "The project is active." in done
    assert 'data-testid="readiness"' not in done
