"""Readiness: named checks, each pass / warn / fail with a reason, that a project must pass
before it becomes active. Read by the API, the project page and `labelop readiness`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from labelop.audit.actions import AuditAction
from labelop.audit.chain import verify_chain
from labelop.audit.models import AuditEvent
from labelop.audit.services import record
from labelop.core.errors import Conflict
from labelop.permissions import Action, Actor, Role, lacks_second_factor, require
from labelop.privacy.notes import current as current_note
from labelop.privacy.profiles import policy_of, storage_refusal
from labelop.projects.models import Membership, Project, Status
from labelop.storage.services import default_location

IDLE_DAYS = 30
MAX_OWNERS = 3
# Audit actions only an owner takes: an owner with none of these in IDLE_DAYS does not need
# the role (least privilege).
OWNER_ACTIONS = (AuditAction.MEMBER_ADDED, AuditAction.MEMBER_ROLE_CHANGED,
                 AuditAction.MEMBER_REMOVED, AuditAction.POLICY_UPDATED,
                 AuditAction.NOTE_PUBLISHED, AuditAction.TASK_ASSIGNED,
                 AuditAction.TASK_UNASSIGNED, AuditAction.LABELS_UPDATED,
                 AuditAction.IMAGE_IMPORTED, AuditAction.PROJECT_UPDATED,
                 AuditAction.PROJECT_CREATED, AuditAction.REVIEW_SETTINGS_UPDATED)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail
    reason: str


def _check(name: str, ok: bool, reason_ok: str, reason_bad: str, *, severe: bool = True
           ) -> Check:
    return Check(name, "pass" if ok else ("fail" if severe else "warn"),
                 reason_ok if ok else reason_bad)


def checks(project: Project, *, names: bool = True) -> list[Check]:
    """The checks; `names=False` counts people instead of naming them (for a caller who has
    not shown the project's second factor yet)."""
    policy = policy_of(project)
    return [_note(project, policy.note_required), _people(project),
            _over_permissioned(project, names),
            _two_factor(project, policy.two_factor_required, names), _storage(project),
            _external_models(project, policy.external_models_allowed), _audit_chain()]


def _note(project: Project, required: bool) -> Check:
    note = current_note(project)
    if note is None:
        return _check("operating_note", False, "", "There is no operating note yet."
                      + ("" if required else " The profile recommends one."), severe=required)
    last_change = (AuditEvent.objects.filter(project=project, action=AuditAction.POLICY_UPDATED)
                   .order_by("-seq").values_list("time", flat=True).first())
    if last_change is None or note.created_at >= last_change:
        return Check("operating_note", "pass",
                     f"Version {note.version} is newer than the last policy change.")
    return _check("operating_note", False, "",
                  f"Version {note.version} predates the last policy change "
                  f"({last_change:%Y-%m-%d %H:%M}); review it and publish it again.",
                  severe=required)


def _people(project: Project) -> Check:
    roles = set(Membership.objects.filter(project=project, user__is_active=True)
                .values_list("role", flat=True))
    missing = [r.value for r in (Role.OWNER, Role.REVIEWER) if r.value not in roles]
    return _check("owner_and_reviewer", not missing, "At least one owner and one reviewer.",
                  f"No active {' or '.join(missing)}: someone must review the work.")


def _who(usernames: list[str], names: bool) -> str:
    return ", ".join(usernames) if names else f"{len(usernames)} member(s)"


def _over_permissioned(project: Project, names: bool) -> Check:
    since = timezone.now() - timedelta(days=IDLE_DAYS)
    members = list(Membership.objects.filter(project=project, user__is_active=True)
                   .select_related("user"))
    active = set(AuditEvent.objects.filter(project=project, time__gte=since)
                 .values_list("actor_id", flat=True).distinct())
    acting_owners = set(AuditEvent.objects.filter(project=project, time__gte=since,
                                                  action__in=OWNER_ACTIONS)
                        .values_list("actor_id", flat=True).distinct())
    owners = [m for m in members if m.role == Role.OWNER]
    problems = []
    if len(owners) > MAX_OWNERS:
        problems.append(f"{len(owners)} owners, more than {MAX_OWNERS}")
    idle = sorted(m.user.username for m in members
                  if m.user_id not in active and m.added_at < since)
    if idle:
        problems.append(f"Idle for {IDLE_DAYS} days: {_who(idle, names)}")
    lazy = sorted(m.user.username for m in owners
                  if m.user_id not in acting_owners and m.added_at < since)
    if lazy:
        problems.append(f"Owners who did nothing only an owner may in {IDLE_DAYS} days: "
                        f"{_who(lazy, names)} (make them reviewers or annotators)")
    return _check("least_privilege", not problems, "Every member uses the role they have.",
                  "; ".join(problems) + ".", severe=False)


def _two_factor(project: Project, required: bool, names: bool) -> Check:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    members = Membership.objects.filter(project=project, user__is_active=True)
    enrolled = set(TOTPDevice.objects.filter(confirmed=True, user__in=members.values("user"))
                   .values_list("user_id", flat=True))
    without = sorted(m.user.username for m in members.select_related("user")
                     if m.user_id not in enrolled)
    if not required:
        return Check("two_factor", "pass", "The profile does not require a second factor"
                     + (f" ({len(without)} member(s) have none)." if without else "."))
    return _check("two_factor", not without, "Every member has a second factor.",
                  f"Members without a second factor: {_who(without, names)}.")


def _storage(project: Project) -> Check:
    location = project.storage_location or default_location()
    refusal = storage_refusal(project, location)
    return _check("storage", refusal is None,
                  f"New images go to {location.name}, which the policy allows.", refusal or "")


def _external_models(project: Project, allowed: bool) -> Check:
    from labelop.inference.models import ModelEndpoint, Prediction, Runs

    if allowed:
        return Check("external_models", "pass", "The policy allows external model endpoints; "
                     "the data path names them.")
    sent = sorted(set(Prediction.objects.filter(task__project=project, runs=Runs.EXTERNAL)
                      .values_list("model", flat=True)))
    if sent:
        # Past, not present: the policy refuses every new run, so this cannot be undone, only
        # explained (in the note) to whoever reviews the project.
        return Check("external_models", "warn",
                     f"Images of this project went to external models ({', '.join(sent)}) "
                     "before its policy forbade them; no image can go there any more.")
    registered = ModelEndpoint.objects.filter(runs=Runs.EXTERNAL).count()
    return Check("external_models", "pass",
                 f"No image of this project went to an external model; the policy refuses "
                 f"the {registered} external endpoint(s) registered here.")


def _audit_chain() -> Check:
    result = verify_chain()
    return _check("audit_chain", result.ok, f"The audit chain verifies ({result.events} events).",
                  f"The audit chain is broken at event {result.first_broken_seq}: "
                  f"{result.reason}.")


def readiness(*, actor: Actor, project: Project) -> list[Check]:
    require(actor, Action.READINESS_VIEW, project)
    return checks(project, names=not lacks_second_factor(actor, project))


def activate(*, actor: Actor, project: Project) -> Project:
    """Draft -> active, only while no check fails; a refusal is audited too."""
    require(actor, Action.PROJECT_UPDATE, project)
    if project.status != Status.DRAFT:
        raise Conflict(f"The project is {project.status}; only a draft becomes active.",
                       code="not_a_draft")
    found = checks(project)
    failing = [c for c in found if c.status == "fail"]
    if failing:
        with transaction.atomic():  # kept: the refusal is raised after this commits
            record(actor=actor, action=AuditAction.PROJECT_ACTIVATION_REFUSED, project=project,
                   target=f"project:{project.pk}",
                   details={"failing": [c.name for c in failing]})
        raise Conflict(f"Not ready: {'; '.join(c.reason for c in failing)}",
                       code="not_ready", checks=[asdict(c) for c in found])
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        project.status = Status.ACTIVE
        project.save(update_fields=["status"])
        record(actor=actor, action=AuditAction.PROJECT_ACTIVATED, project=project,
               target=f"project:{project.pk}",
               details={"warnings": [c.name for c in found if c.status == "warn"]})
    return project
