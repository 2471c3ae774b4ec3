"""Release pages: the project's snapshots (take one, export one) and the release report
between two of them, as a QA lead reads it and attaches it to a release."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from labelop.core.pages import PageView, form_id
from labelop.permissions import Action, can
from labelop.projects.selectors import project_get
from labelop.releases import diff, exports, selectors, services

SHOWN = 500  # report rows on the page; the downloads hold every one


class ReleasesView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}/releases"

    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id,
                              action=Action.SNAPSHOT_VIEW)
        compare = form_id(request.GET.get("from")), form_id(request.GET.get("to"))
        if None not in compare:
            return HttpResponseRedirect(f"/snapshots/{compare[0]}/report/{compare[1]}")
        snapshots = selectors.snapshot_list(actor=self.actor, project=project, limit=100).items
        owner = can(self.actor, Action.EXPORT_CREATE, project)
        made = selectors.export_list(actor=self.actor, project=project) if owner else []
        return render(request, "releases/list.html", {
            "project": project, "snapshots": snapshots, "exports": made,
            "can_create": can(self.actor, Action.SNAPSHOT_CREATE, project), "can_export": owner,
            "formats": exports.FORMATS, "images": exports.IMAGES})

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        snapshot_id = form_id(request.POST.get("export"))
        if snapshot_id is not None:
            snapshot = selectors.snapshot_get(actor=self.actor, snapshot_id=snapshot_id,
                                              sealed=True)
            export = exports.export_start(actor=self.actor, snapshot=snapshot,
                                          format=request.POST.get("format", ""),
                                          images=request.POST.get("images", ""))
            messages.success(request, f"Export {export.pk} is being made; it appears below "
                             "when ready.")
        else:
            made = services.snapshot_create(actor=self.actor, project=project,
                                            name=request.POST.get("name", "").strip()[:100])
            messages.success(request, f"Snapshot {made.name!r} " + (
                "is being written in the background." if made.status == "pending"
                else f"taken: {made.tasks} tasks, {made.shapes} shapes."))
        return HttpResponseRedirect(self.return_to(project_id=project_id))


class ReleaseReportView(PageView):
    def get(self, request: HttpRequest, snapshot_id: int, other_id: int) -> HttpResponse:
        a = selectors.snapshot_get(actor=self.actor, snapshot_id=snapshot_id, sealed=True)
        b = selectors.snapshot_get(actor=self.actor, snapshot_id=other_id, sealed=True)
        report = diff.release_report(actor=self.actor, a=a, b=b, format="page")
        return render(request, "releases/report.html", {
            "project": a.project, "report": report, "shown": SHOWN,
            "changed": report["changed"][:SHOWN], "added": report["added"][:SHOWN],
            "removed": report["removed"][:SHOWN]})
