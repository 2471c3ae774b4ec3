"""Pages of labelling work: the editor, an annotator's queue, the owner's task table."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from labelop.annotations import schemas, selectors, services
from labelop.annotations.labels import REDACTION_METHODS
from labelop.annotations.models import Task, TaskState
from labelop.annotations.states import Event, allows
from labelop.core.errors import Invalid
from labelop.core.pages import PageView, form_id
from labelop.inference.models import Prediction
from labelop.inference.selectors import suggestions
from labelop.permissions import Action, Actor, can
from labelop.privacy.models import QUESTIONS
from labelop.privacy.notes import current as current_note
from labelop.projects.models import Membership
from labelop.projects.selectors import project_get
from labelop.review.selectors import last_review

_STATES = {s.value for s in TaskState}
_FILTER_TEXT = re.compile(r"[^\x00-\x1f\x7f]{0,200}")  # what a filter box may hold


def _read_only_reason(state: str, can_edit_role: bool) -> str:
    if not can_edit_role:
        return "You may look at this task but not change it."
    return {
        TaskState.SUBMITTED: "Submitted: the task waits for review and is locked.",
        TaskState.ACCEPTED: "Accepted: the task is final.",
        TaskState.ESCALATED: "Escalated: the task waits for an owner or reviewer to decide.",
    }.get(TaskState(state), "This task cannot be changed in its state.")


class EditorView(PageView):
    def get(self, request: HttpRequest, task_id: int) -> HttpResponse:
        task = selectors.task_get(actor=self.actor, task_id=task_id)
        may_edit = can(self.actor, Action.ANNOTATION_EDIT, task)
        can_edit = may_edit and allows(task.state, services.edit_event(self.actor, task))
        boot = {
            "task": schemas.TaskOut.of(task) | {"updated_at": task.updated_at.isoformat()},
            "labels": task.project.labels,
            "redaction_methods": list(REDACTION_METHODS),
            "image_url": f"/api/v1/images/{task.asset_id}/content",
            "queue_url": f"/projects/{task.project_id}/queue",
            "note": _note(task),
            "can_edit": can_edit,
            "can_submit": (can(self.actor, Action.TASK_SUBMIT, task)
                           and allows(task.state, Event.SUBMIT)),
            "read_only_reason": "" if can_edit else _read_only_reason(task.state, may_edit),
            "is_assignee": task.assignee_id == self.actor.user.pk,
            "can_escalate": (can(self.actor, Action.TASK_ESCALATE, task)
                             and allows(task.state, services.escalate_event(self.actor, task))),
            "predictions": suggestions(Prediction.objects.filter(task=task).order_by("-pk")),
            "escalation_reasons": task.project.escalation_reasons,
            "last_review": _last_review(task),
            "review": _review_panel(self.actor, task),
        }
        return render(request, "annotations/editor.html", {"task": task, "boot": boot})


def _note(task: Task) -> dict | None:
    note = current_note(task.project)
    if note is None:
        return None
    return {"version": note.version,
            "answers": [{"question": q, "answer": note.answers()[f]} for f, q, _ in QUESTIONS]}


def _last_review(task: Task) -> dict | None:
    decision = last_review(task)
    if decision is None:
        return None
    return {"decision": decision.decision, "comment": decision.comment,
            "reviewer": decision.reviewer_name, "at": decision.created_at.isoformat(),
            "version": decision.version}


def _review_panel(actor: Actor, task: Task) -> dict | None:
    """What a reviewer needs to decide this task here, when they may."""
    if not (can(actor, Action.TASK_REVIEW, task) and allows(task.state, Event.ACCEPT)):
        return None
    return {"redaction_rules": task.project.redaction_rules}


class QueueView(PageView):
    """The caller's own tasks in a project, rework first, and a button to the next one."""

    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        state = request.GET.get("state") or None
        page = selectors.task_list(actor=self.actor, project=project,
                                   assignee=self.actor.user.username,
                                   state=state if state in _STATES else None,
                                   cursor=request.GET.get("cursor"))
        counts = selectors.my_counts(actor=self.actor, project=project)
        left = counts[TaskState.ASSIGNED] + counts[TaskState.REJECTED]
        done = sum(counts.values()) - left
        return render(request, "annotations/queue.html", {
            "project": project, "page": page, "counts": counts, "left": left, "done": done,
            "total": sum(counts.values()), "state": state, "finished": "done" in request.GET,
            "states": list(TaskState),
        })


class NextTaskView(PageView):
    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        task = selectors.next_task(actor=self.actor, project=project)
        if task is None:
            messages.info(request, "Nothing left in your queue for this project.")
            return HttpResponseRedirect(f"/projects/{project.pk}/queue")
        return HttpResponseRedirect(f"/tasks/{task.pk}")


class TaskTableView(PageView):
    """Every task of the project with filters; owners assign from here."""

    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}/tasks"

    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id,
                              action=Action.TASK_PROGRESS_VIEW)
        filters = {k: request.GET.get(k, "") for k in ("state", "assignee", "label", "q")}
        filters = {k: v if _FILTER_TEXT.fullmatch(v) else "" for k, v in filters.items()}
        page = selectors.task_list(
            actor=self.actor, project=project,
            state=filters["state"] if filters["state"] in _STATES else None,
            assignee=(None if "assignee" not in request.GET else
                      "" if filters["assignee"] == "-" else filters["assignee"] or None),
            label=filters["label"] or None, q=filters["q"] or None,
            cursor=request.GET.get("cursor"), limit=100)
        people = list(Membership.objects.filter(project=project).select_related("user")
                      .order_by("user__username").values_list("user__username", "role"))
        query = urlencode({k: v for k, v in filters.items() if v})
        return render(request, "annotations/tasks.html", {
            "project": project, "page": page, "filters": filters, "query": query,
            "progress": selectors.progress(actor=self.actor, project=project),
            "people": people, "states": list(TaskState),
            "can_assign": can(self.actor, Action.TASK_ASSIGN, project),
        })

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        ids = [i for i in map(form_id, request.POST.getlist("task")) if i is not None]
        what = request.POST.get("do")
        if what == "unassign":
            if not ids:
                raise Invalid("Tick the tasks to unassign first.")
            n = services.tasks_unassign(actor=self.actor, project=project, task_ids=ids)
            messages.success(request, f"{n} task(s) went back to the pool.")
        else:
            people = [u for u in request.POST.getlist("annotator") if u]
            if not people:
                raise Invalid("Choose who gets the tasks.")
            count = form_id(request.POST.get("count"))
            if what == "assign-count":
                if count is None or not 1 <= count <= services.MAX_ASSIGN:
                    raise Invalid(f"Give a number of tasks from 1 to {services.MAX_ASSIGN}.")
                given = services.tasks_assign(actor=self.actor, project=project,
                                              annotators=people, count=count)
            else:
                if not ids:
                    raise Invalid("Tick the tasks to assign first.")
                given = services.tasks_assign(actor=self.actor, project=project,
                                              annotators=people, task_ids=ids)
            summary = ", ".join(f"{len(v)} to {k}" for k, v in given.items()) or "none were free"
            messages.success(request, f"Assigned {summary}.")
        return HttpResponseRedirect(self.return_to(project_id=project_id))
