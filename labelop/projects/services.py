"""Writes for projects and memberships. Each authorizes, changes state and audits atomically."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from labelop.accounts.models import User
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, NotFound
from labelop.permissions import Action, Actor, Role, require
from labelop.projects.models import Membership, Project, Sensitivity


@transaction.atomic
def project_create(*, actor: Actor, name: str, sensitivity: Sensitivity,
                   description: str = "", labels: list[dict] | None = None) -> Project:
    """Create a project in draft; its creator becomes its first owner."""
    require(actor, Action.PROJECT_CREATE)
    project = Project.objects.create(
        name=name, description=description, sensitivity=sensitivity, labels=labels or [],
        created_by=actor.user,
    )
    Membership.objects.create(project=project, user=actor.user, role=Role.OWNER)
    record(actor=actor, action=AuditAction.PROJECT_CREATED, project=project,
           target=f"project:{project.pk}",
           details={"name": name, "sensitivity": sensitivity.value, "labels": len(project.labels)})
    record(actor=actor, action=AuditAction.MEMBER_ADDED, project=project,
           target=f"user:{actor.name}", details={"role": Role.OWNER.value})
    return project


@transaction.atomic
def project_update(*, actor: Actor, project: Project, name: str | None = None,
                   description: str | None = None,
                   sensitivity: Sensitivity | None = None) -> Project:
    """Rename, describe, or tighten the sensitivity profile (never loosen it here)."""
    require(actor, Action.PROJECT_UPDATE, project)
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    before = {"name": project.name, "description": project.description,
              "sensitivity": project.sensitivity}
    if sensitivity is not None and sensitivity.rank < Sensitivity(project.sensitivity).rank:
        raise Conflict(
            f"Moving from {project.sensitivity} to {sensitivity.value} loosens the profile; "
            "that needs an approved policy exception.", code="policy_loosening_refused")
    if name is not None:
        project.name = name
    if description is not None:
        project.description = description
    if sensitivity is not None:
        project.sensitivity = sensitivity.value
    after = {"name": project.name, "description": project.description,
             "sensitivity": project.sensitivity}
    changed = {k: {"before": before[k], "after": after[k]} for k in before if before[k] != after[k]}
    if changed:
        project.save(update_fields=list(changed))
        record(actor=actor, action=AuditAction.PROJECT_UPDATED, project=project,
               target=f"project:{project.pk}", details=changed)
    return project


def _member_for_update(project: Project, username: str) -> Membership:
    membership = (Membership.objects.select_for_update(of=("self",), no_key=True)
                  .select_related("user")
                  .filter(project=project, user__username=username).first())
    if membership is None:
        raise NotFound(f"{username!r} is not a member of this project.")
    return membership


def _refuse_last_owner(project: Project, membership: Membership) -> None:
    if membership.role != Role.OWNER:
        return
    # Lock every owner row so two concurrent demotions cannot both pass this check.
    owners = list(Membership.objects.select_for_update(no_key=True)
                  .filter(project=project, role=Role.OWNER).values_list("pk", flat=True))
    if owners == [membership.pk]:
        raise Conflict("A project must keep at least one owner.", code="last_owner")


@transaction.atomic
def member_add(*, actor: Actor, project: Project, username: str, role: Role) -> Membership:
    require(actor, Action.MEMBER_ADD, project)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(f"No active user named {username!r}.", code="user_not_found")
    already = Conflict(f"{username!r} is already a member; change their role instead.",
                       code="already_member")
    if Membership.objects.filter(project=project, user=user).exists():
        raise already
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError:  # added concurrently
        raise already from None
    record(actor=actor, action=AuditAction.MEMBER_ADDED, project=project,
           target=f"user:{username}", details={"role": role.value})
    return membership


@transaction.atomic
def member_change_role(*, actor: Actor, project: Project, username: str, role: Role
                       ) -> Membership:
    require(actor, Action.MEMBER_CHANGE, project)
    membership = _member_for_update(project, username)
    if membership.role == role:
        return membership
    if role != Role.OWNER:
        _refuse_last_owner(project, membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    record(actor=actor, action=AuditAction.MEMBER_ROLE_CHANGED, project=project,
           target=f"user:{username}", details={"before": before, "after": role.value})
    return membership


@transaction.atomic
def member_remove(*, actor: Actor, project: Project, username: str) -> None:
    require(actor, Action.MEMBER_REMOVE, project)
    membership = _member_for_update(project, username)
    _refuse_last_owner(project, membership)
    role = membership.role
    membership.delete()
    record(actor=actor, action=AuditAction.MEMBER_REMOVED, project=project,
           target=f"user:{username}", details={"role": role})
