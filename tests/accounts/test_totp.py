from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from labelop.audit.models import AuditEvent
from tests.conftest import World, api_for, session_api


def _code(username: str) -> str:
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_enrolment_with_an_authenticator_app(world: World) -> None:
    me = session_api(world.users["annotator"])
    begun = me.post("/me/totp")
    assert begun.status_code == 201, begun.content
    assert begun.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert len(begun.json()["secret"]) >= 32
    wrong = me.post("/me/totp/confirm", {"code": "000000" if _code("annotator") != "000000"
                                         else "111111"})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "wrong_code"
    TOTPDevice.objects.filter(user__username="annotator").update(throttling_failure_count=0,
                                                                 throttling_failure_timestamp=None)
    done = me.post("/me/totp/confirm", {"code": _code("annotator")})
    assert done.status_code == 200, done.content
    codes = done.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert StaticToken.objects.filter(device__user__username="annotator").count() == 10
    assert TOTPDevice.objects.get(user__username="annotator").confirmed
    assert AuditEvent.objects.filter(action="two_factor.enrolled", actor_name="annotator").exists()
    assert me.post("/me/totp").json()["code"] == "already_enrolled"


def test_a_token_cannot_enrol_a_second_factor(world: World) -> None:
    response = api_for(world.users["annotator"]).post("/me/totp")
    assert response.status_code == 403
    assert response.json()["code"] == "session_required"
    assert not TOTPDevice.objects.exists()


def test_enrolling_everyone_passes_the_readiness_check(world: World, data_dir) -> None:
    for who in ("owner", "reviewer", "annotator", "target"):
        me = session_api(world.users[who])
        me.post("/me/totp")
        assert me.post("/me/totp/confirm", {"code": _code(who)}).status_code == 200
    body = api_for(world.users["owner"]).get(f"/projects/{world.project.pk}/readiness").json()
    assert next(c for c in body["checks"] if c["name"] == "two_factor")["status"] == "pass"
