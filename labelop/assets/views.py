from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from labelop.assets import services
from labelop.core.pages import PageView
from labelop.projects.selectors import project_get


class ImageUploadView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}"

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        report = services.images_upload(actor=self.actor, project=project,
                                        files=request.FILES.getlist("files"))
        messages.success(request, f"{len(report.created)} images added, "
                         f"{len(report.duplicates)} were already in the project.")
        for item in report.rejected:
            messages.error(request, f"{item['name']} was refused: {item['error']['message']}")
        return HttpResponseRedirect(self.return_to(project_id=project_id))


class ProjectStorageView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}"

    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = project_get(actor=self.actor, project_id=project_id)
        services.project_storage_set(actor=self.actor, project=project,
                                     location_name=request.POST.get("location", ""))
        messages.success(request, f"New images of this project now go to "
                         f"{request.POST.get('location')}.")
        return HttpResponseRedirect(self.return_to(project_id=project_id))
