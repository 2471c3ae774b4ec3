"""Policy exceptions: four eyes, single use, expiring. The policy service consumes one to
loosen a control or the profile; nothing else can."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Forbidden, Invalid, NotFound
from labelop.permissions import Action, Actor, require
from labelop.privacy.models import PolicyException
from labelop.projects.models import Project

VALID_FOR = timedelta(days=7)


# One export with original images, where the profile allows them only by exception.
EXPORT_ORIGINALS = "export:originals"


def action_name(control: str, value: Any) -> str:
    """The canonical name of loosening `control` to `value` (also what owners ask for)."""
    return f"loosen:{control}={str(value).lower() if isinstance(value, bool) else value}"


def _check_action(action: str) -> None:
    from labelop.privacy.profiles import CONTROLS
    from labelop.projects.models import Sensitivity

    kind, _, rest = action.partition(":")
    if kind == "profile" and rest in {s.value for s in Sensitivity}:
        return
    if action == EXPORT_ORIGINALS:
        return
    control, _, value = rest.partition("=")
    if kind == "loosen" and control in CONTROLS and value in {
            action_name(control, v).partition("=")[2] for v in CONTROLS[control].order}:
        return
    raise Invalid("Ask for 'profile:<standard|restricted|local_only>', "
                  "'loosen:<control>=<value>' or 'export:originals'.",
                  code="unknown_exception_action")


@transaction.atomic
def request_exception(*, actor: Actor, project: Project, action: str, reason: str
                      ) -> PolicyException:
    require(actor, Action.EXCEPTION_MANAGE, project)
    _check_action(action)
    made = PolicyException.objects.create(project=project, action=action, reason=reason,
                                          requested_by=actor.user,
                                          expires_at=timezone.now() + VALID_FOR)
    record(actor=actor, action=AuditAction.EXCEPTION_REQUESTED, project=project,
           target=f"exception:{made.pk}", details={"action": action, "reason": reason})
    return made


@transaction.atomic
def approve_exception(*, actor: Actor, exception_id: int) -> PolicyException:
    found = PolicyException.objects.select_for_update(no_key=True).filter(pk=exception_id).first()
    if found is None:
        raise NotFound("Not found.")
    require(actor, Action.EXCEPTION_MANAGE, found)
    if found.requested_by_id == actor.user.pk:
        raise Forbidden("Another owner must approve an exception you asked for.",
                        code="four_eyes")
    if found.approved_at is not None:
        raise Conflict("This exception is already approved.", code="already_approved")
    if found.expires_at <= timezone.now():
        raise Conflict("This exception expired; ask again.", code="exception_expired")
    found.approved_by, found.approved_at = actor.user, timezone.now()
    found.save(update_fields=["approved_by", "approved_at"])
    record(actor=actor, action=AuditAction.EXCEPTION_APPROVED, project=found.project,
           target=f"exception:{found.pk}",
           details={"action": found.action})
    return found


def use_exception(*, actor: Actor, project: Project, action: str) -> PolicyException | None:
    """Consume an approved, unexpired, unused exception for `action` (inside the caller's
    transaction), or None."""
    found = (PolicyException.objects.select_for_update(no_key=True)
             .filter(project=project, action=action, approved_at__isnull=False,
                     used_at__isnull=True, expires_at__gt=timezone.now())
             .order_by("id").first())
    if found is None:
        return None
    found.used_at = timezone.now()
    found.save(update_fields=["used_at"])
    record(actor=actor, action=AuditAction.EXCEPTION_USED, project=project,
           target=f"exception:{found.pk}", details={"action": action})
    return found


def exception_list(*, actor: Actor, project: Project) -> list[PolicyException]:
    require(actor, Action.EXCEPTION_MANAGE, project)
    return list(PolicyException.objects.filter(project=project)
                .select_related("requested_by", "approved_by").order_by("-id")[:200])
