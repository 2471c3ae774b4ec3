"""Review decisions and the project's review settings. Each authorizes, moves the task through
the state machine, and audits in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labelop.annotations.services import task_for_update
from labelop.annotations.states import Event, after
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Invalid
from labelop.permissions import Action, Actor, require
from labelop.privacy.profiles import PROFILES, policy_of
from labelop.projects.models import Project, Sensitivity
from labelop.review.models import Decision, ReviewDecision


@transaction.atomic
def review(*, actor: Actor, task_id: int, decision: Decision, comment: str = "",
           confirmations: list[str] | None = None, version: int | None = None
           ) -> ReviewDecision:
    """Accept a submitted task, or send it back to its annotator with a comment. Accepting
    needs every redaction rule of the project confirmed."""
    task = task_for_update(task_id)
    require(actor, Action.TASK_VIEW, task)  # hidden tasks stay hidden: 404 before 403
    require(actor, Action.TASK_REVIEW, task)
    state = after(task.state, Event.ACCEPT if decision == Decision.ACCEPT else Event.REJECT)
    if version is not None and version != task.version:
        raise Conflict(f"The annotation changed since version {version} (now {task.version}); "
                       "look at it again before deciding.", code="version_conflict")
    confirmed = list(dict.fromkeys(confirmations or []))
    rules = task.project.redaction_rules
    unknown = [c for c in confirmed if c not in rules]
    if unknown:
        raise Invalid(f"The project has no redaction rule {unknown[0]!r}.",
                      code="unknown_redaction_rule", rules=rules)
    missing = [r for r in rules if r not in confirmed]
    if decision == Decision.ACCEPT and missing:
        raise Invalid(f"Confirm every redaction rule before accepting; not confirmed: "
                      f"{', '.join(missing)}.", code="redaction_unconfirmed", missing=missing)
    if decision == Decision.REJECT and not comment.strip():
        raise Invalid("Say what to fix: a task is sent back with a comment.",
                      code="comment_required")
    task.state = state
    task.updated_at = timezone.now()
    task.save(update_fields=["state", "updated_at"])
    made = ReviewDecision.objects.create(
        task=task, project_id=task.project_id, decision=decision, comment=comment,
        confirmations=confirmed, version=task.version, reviewer=actor.user,
        reviewer_name=actor.name, annotator=task.assignee, created_at=task.updated_at)
    record(actor=actor, action=AuditAction.TASK_REVIEWED, project=task.project,
           target=f"task:{task.pk}",
           details={"decision": decision.value, "version": task.version, "comment": comment,
                    "confirmations": confirmed,
                    "annotator": task.assignee.username if task.assignee else None})
    return made


def review_required(project: Project) -> bool:
    """Whether a task needs an accepted review to enter a snapshot: always under the stricter
    profiles, as the owner set it on a standard project."""
    return policy_of(project).review_required


@transaction.atomic
def settings_update(*, actor: Actor, project: Project, redaction_rules: list[str],
                    escalation_reasons: list[str], escalation_overdue_hours: int,
                    review_required: bool) -> Project:
    require(actor, Action.REVIEW_SETTINGS_EDIT, project)
    project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    if not review_required and (PROFILES[Sensitivity(project.sensitivity)].review_required
                                or (project.policy or {}).get("review_required")):
        raise Conflict(f"This {project.sensitivity} project's policy requires review before a "
                       "snapshot.", code="review_required_by_profile")
    new = {"redaction_rules": redaction_rules, "escalation_reasons": escalation_reasons,
           "escalation_overdue_hours": escalation_overdue_hours,
           "review_required": review_required}
    changed = {k: {"before": getattr(project, k), "after": v} for k, v in new.items()
               if getattr(project, k) != v}
    if changed:
        for key, value in new.items():
            setattr(project, key, value)
        project.save(update_fields=list(changed))
        record(actor=actor, action=AuditAction.REVIEW_SETTINGS_UPDATED, project=project,
               target=f"project:{project.pk}", details=changed)
    return project
