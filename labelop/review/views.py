"""Pages for reviewers and owners: the review queue and the escalations."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from labelop.annotations import services as labeling
from labelop.core.errors import Invalid
from labelop.core.pages import PageView, form_id
from labelop.permissions import Action
from labelop.projects.models import Membership
from labelop.projects.selectors import project_get
from labelop.review import selectors


class ReviewQueueView(PageView):
    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id,
                              action=Action.REVIEW_QUEUE_VIEW)
        annotator = request.GET.get("annotator", "")[:150] or None
        label = request.GET.get("label", "")[:100] or None
        page = selectors.review_queue(actor=self.actor, project=project, annotator=annotator,
                                      label=label, cursor=request.GET.get("cursor"))
        people = (Membership.objects.filter(project=project).order_by("user__username")
                  .values_list("user__username", flat=True))
        return render(request, "review/queue.html", {
            "project": project, "page": page, "annotator": annotator or "",
            "label": label or "", "people": people, "finished": "done" in request.GET})


class EscalationsView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}/escalations"

    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id,
                              action=Action.REVIEW_QUEUE_VIEW)
        open_only = request.GET.get("all") is None
        page = selectors.escalation_list(actor=self.actor, project=project,
                                         open_only=open_only, cursor=request.GET.get("cursor"))
        rows = [(e, selectors.overdue(e, project)) for e in page.items]
        return render(request, "review/escalations.html", {
            "project": project, "rows": rows, "page": page, "open_only": open_only})

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project_get(actor=self.actor, project_id=project_id)
        escalation = form_id(request.POST.get("escalation"))
        resolution = request.POST.get("resolution", "").strip()
        if escalation is None:
            raise Invalid("Choose an escalation.")
        if not resolution:
            raise Invalid("Write down the decision.")
        labeling.escalation_resolve(actor=self.actor, escalation_id=escalation,
                                    resolution=resolution[:2000])
        messages.success(request, "Resolved: the task is back where it was.")
        return HttpResponseRedirect(self.return_to(project_id=project_id))
