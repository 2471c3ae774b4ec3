"""Changing a project's policy: the profile, and controls tightened beyond it. Tightening is
free; loosening needs an approved exception (refused until one exists)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Invalid
from labelop.permissions import Action, Actor, require
from labelop.privacy.exceptions import action_name, use_exception
from labelop.privacy.profiles import CONTROLS, PROFILES, policy_of, strictness
from labelop.projects.models import Project, Sensitivity


def _refuse_loosening(what: str) -> Conflict:
    return Conflict(f"{what} loosens the project's policy; that needs an exception another "
                    "owner approved.", code="policy_loosening_refused")


@transaction.atomic
def policy_update(*, actor: Actor, project: Project, sensitivity: Sensitivity | None = None,
                  controls: dict[str, Any] | None = None) -> Project:
    require(actor, Action.POLICY_EDIT, project)
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    before = {"sensitivity": project.sensitivity, **policy_of(project).controls()}
    if (sensitivity is not None and sensitivity.rank < Sensitivity(project.sensitivity).rank
            and not use_exception(actor=actor, project=project,
                                  action=f"profile:{sensitivity.value}")):
        raise _refuse_loosening(f"Moving from {project.sensitivity} to {sensitivity.value}")
    if sensitivity is not None:
        project.sensitivity = sensitivity.value
    wanted = dict(project.policy or {})
    current = policy_of(project).controls()
    for control, value in (controls or {}).items():
        if control not in CONTROLS:
            raise Invalid(f"There is no control {control!r}; the controls are "
                          f"{', '.join(CONTROLS)}.", code="unknown_control")
        try:
            asked, now = strictness(control, value), strictness(control, current[control])
        except ValueError as exc:
            raise Invalid(str(exc), code="invalid_control_value") from None
        if asked < now:
            floor = PROFILES[Sensitivity(project.sensitivity)].controls()[control]
            if asked < strictness(control, floor):
                raise Conflict(f"{control} cannot go below what the {project.sensitivity} "
                               "profile says; move the project to another profile (with an "
                               "approved exception) instead.", code="below_profile")
            if not use_exception(actor=actor, project=project,
                                 action=action_name(control, value)):
                raise _refuse_loosening(f"Setting {control} to {value!r}")
        wanted[control] = value
    profile = PROFILES[Sensitivity(project.sensitivity)].controls()
    # Keep only what is stricter than the profile: the rest the profile already says.
    project.policy = {k: v for k, v in wanted.items()
                      if strictness(k, v) > strictness(k, profile[k])}
    after = {"sensitivity": project.sensitivity, **policy_of(project).controls()}
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    if changed:
        project.save(update_fields=["sensitivity", "policy"])
        record(actor=actor, action=AuditAction.POLICY_UPDATED, project=project,
               target=f"project:{project.pk}", details=changed)
    return project
