"""The operating note page: read by every member, written by owners."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from labelop.core.pages import PageView, form_id
from labelop.permissions import Action, can
from labelop.privacy import datapath, exceptions, notes
from labelop.privacy.models import QUESTIONS
from labelop.projects.selectors import project_get


class NoteView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}/note"

    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        note = notes.note_get(actor=self.actor, project=project)
        answers = note.answers() if note else {}
        return render(request, "privacy/note.html", {
            "project": project, "note": note,
            "questions": [(f, q, hint, answers.get(f, "")) for f, q, hint in QUESTIONS],
            "can_edit": can(self.actor, Action.NOTE_EDIT, project)})

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        note = notes.note_publish(
            actor=self.actor, project=project,
            answers={f: request.POST.get(f, "")[:5000] for f, _, _ in QUESTIONS},
            based_on=form_id(request.POST.get("based_on")))
        messages.success(request, f"Version {note.version} of the note is published.")
        return HttpResponseRedirect(self.return_to(project_id=project_id))


class DataPathView(PageView):
    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        sections = datapath.data_path(actor=self.actor, project=project)
        return render(request, "privacy/data_path.html", {
            "project": project, "sections": sections,
            "markdown": datapath.as_markdown(project, sections)})


class ExceptionsView(PageView):
    """Owners ask for exceptions and approve each other's here."""

    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}/exceptions"

    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id,
                              action=Action.EXCEPTION_MANAGE)
        rows = exceptions.exception_list(actor=self.actor, project=project)
        return render(request, "privacy/exceptions.html", {
            "project": project, "rows": rows, "me": self.actor.user.pk})

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        approve = form_id(request.POST.get("approve"))
        if approve is not None:
            found = exceptions.approve_exception(actor=self.actor, exception_id=approve)
            messages.success(request, f"Approved: {found.action}.")
        else:
            made = exceptions.request_exception(
                actor=self.actor, project=project, action=request.POST.get("action", "")[:200],
                reason=request.POST.get("reason", "").strip()[:2000] or "—")
            messages.success(request, f"Asked for {made.action}; another owner must approve it.")
        return HttpResponseRedirect(self.return_to(project_id=project_id))
