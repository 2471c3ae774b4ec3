"""The access report: who can see how much of a project, and what they looked at lately."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max
from django.utils import timezone

from labelop.annotations.models import Task
from labelop.audit.actions import AuditAction
from labelop.audit.models import AuditEvent
from labelop.permissions import Action, Actor, Role, require
from labelop.permissions.matrix import ASSIGNED_ONLY
from labelop.projects.models import Membership, Project

WINDOW_DAYS = 30


def access_report(*, actor: Actor, project: Project) -> list[dict]:
    """Per member: role, tasks and images they can see (by the policy's own narrowing rule),
    their last activity in the project and last sign-in, images viewed in 30 days."""
    require(actor, Action.ACCESS_REPORT_VIEW, project)
    since = timezone.now() - timedelta(days=WINDOW_DAYS)
    total = Task.objects.filter(project=project).count()
    assigned = dict(Task.objects.filter(project=project, assignee__isnull=False)
                    .values_list("assignee_id").annotate(n=Count("id")))
    events = AuditEvent.objects.filter(project=project)
    last_seen = dict(events.values_list("actor_id").annotate(last=Max("time")))
    viewed = dict(events.filter(action=AuditAction.IMAGE_VIEWED, time__gte=since)
                  .values_list("actor_id").annotate(n=Count("target", distinct=True)))
    rows = []
    for m in (Membership.objects.filter(project=project).select_related("user")
              .order_by("role", "user__username")):
        narrowed = Role(m.role) in ASSIGNED_ONLY[Action.TASK_VIEW]
        visible = assigned.get(m.user_id, 0) if narrowed else total
        rows.append({"username": m.user.username, "role": m.role, "active": m.user.is_active,
                     "tasks_visible": visible if m.user.is_active else 0,
                     "images_visible": visible if m.user.is_active else 0,
                     "last_activity": last_seen.get(m.user_id), "last_login": m.user.last_login,
                     "images_viewed_30d": viewed.get(m.user_id, 0)})
    return rows
