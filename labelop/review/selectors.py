"""Reads for reviewers and owners: the review queue, the escalations, the quality figures."""

from __future__ import annotations

import statistics
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from labelop.accounts.selectors import user_id
from labelop.annotations.models import Escalation, Task, TaskLabel, TaskState
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, require
from labelop.projects.models import Project
from labelop.review.models import Decision, ReviewDecision


def review_queue(*, actor: Actor, project: Project, annotator: str | None = None,
                 label: str | None = None, cursor: str | None = None, limit: int = 50
                 ) -> Page[Task]:
    """Submitted tasks, oldest first."""
    require(actor, Action.REVIEW_QUEUE_VIEW, project)
    qs = Task.objects.filter(project=project, state=TaskState.SUBMITTED)
    if annotator:
        found = user_id(annotator)
        qs = qs.filter(assignee_id=found) if found else qs.none()
    if label:
        qs = qs.filter(pk__in=TaskLabel.objects.filter(project=project, label=label)
                       .values("task_id"))
    return paginate(qs.select_related("asset", "assignee"), cursor=cursor, limit=limit)


def escalation_list(*, actor: Actor, project: Project, open_only: bool = True,
                    cursor: str | None = None, limit: int = 50) -> Page[Escalation]:
    require(actor, Action.REVIEW_QUEUE_VIEW, project)
    qs = Escalation.objects.filter(project=project)
    if open_only:
        qs = qs.filter(resolved_at=None)
    return paginate(qs.select_related("raised_by", "resolved_by", "task__asset"), cursor=cursor,
                    limit=limit)


def overdue(escalation: Escalation, project: Project) -> bool:
    return escalation.resolved_at is None and (
        timezone.now() - escalation.created_at > timedelta(hours=project.escalation_overdue_hours))


def last_review(task: Task) -> ReviewDecision | None:
    return ReviewDecision.objects.filter(task=task).order_by("-id").first()


def quality(*, actor: Actor, project: Project) -> list[dict]:
    """Per annotator: tasks handed in, acceptance rate and rework of the review decisions on
    their work, median minutes from first save to hand-in, escalations they have open."""
    require(actor, Action.REVIEW_QUEUE_VIEW, project)
    done = dict(Task.objects.filter(project=project, assignee__isnull=False,
                                    state__in=[TaskState.SUBMITTED, TaskState.ACCEPTED])
                .values_list("assignee__username").annotate(n=Count("id")))
    decisions = {row["annotator__username"]: row for row in (
        ReviewDecision.objects.filter(project=project, annotator__isnull=False)
        .values("annotator__username")
        .annotate(accepted=Count("id", filter=Q(decision=Decision.ACCEPT)),
                  rejected=Count("id", filter=Q(decision=Decision.REJECT))))}
    durations: dict[str, list[float]] = {}
    for who, start, end in (Task.objects.filter(project=project, started_at__isnull=False,
                                                submitted_at__isnull=False)
                            .values_list("assignee__username", "started_at", "submitted_at")
                            .iterator(chunk_size=5000)):
        if who and start and end and end >= start:
            durations.setdefault(who, []).append((end - start).total_seconds() / 60)
    escalated = dict(Escalation.objects.filter(project=project, resolved_at=None)
                     .values_list("raised_by__username").annotate(n=Count("id")))
    people = sorted(set(done) | set(decisions) | set(durations) | {
        k for k in escalated if k})
    rows = []
    for who in people:
        d = decisions.get(who, {"accepted": 0, "rejected": 0})
        decided = d["accepted"] + d["rejected"]
        rows.append({
            "annotator": who, "done": done.get(who, 0), "accepted": d["accepted"],
            "rework": d["rejected"],
            "acceptance_rate": round(d["accepted"] / decided, 3) if decided else None,
            "median_minutes": (round(statistics.median(durations[who]), 1)
                               if who in durations else None),
            "open_escalations": escalated.get(who, 0),
        })
    return rows


def acceptance_bars(rows: list[dict], width: int = 360) -> list[dict]:
    """The quality chart as geometry for an SVG drawn by the page (no chart library, no
    script): one bar per annotator, its length the acceptance rate."""
    bars = []
    for i, row in enumerate(rows):
        rate = row["acceptance_rate"]
        bars.append({"name": row["annotator"], "y": 8 + i * 26,
                     "length": round((rate or 0) * width), "track": width,
                     "text": "no decision yet" if rate is None else f"{rate:.0%}"})
    return bars
