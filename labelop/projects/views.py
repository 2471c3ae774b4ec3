from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from labelop.assets.selectors import asset_list
from labelop.core.pages import PageView, post_and_redirect
from labelop.permissions import Action, Actor, Role, can, lacks_second_factor, role_in
from labelop.privacy.access import access_report
from labelop.privacy.notes import current as current_note
from labelop.privacy.readiness import activate
from labelop.privacy.readiness import checks as readiness_checks
from labelop.projects import forms, selectors, services
from labelop.projects.models import Project, Sensitivity
from labelop.review import selectors as review_selectors
from labelop.storage.selectors import location_names, storage_report


class ProjectListView(PageView):
    def get(self, request: HttpRequest) -> HttpResponse:
        page = selectors.project_list(actor=self.actor, cursor=request.GET.get("cursor"))
        rows = [(p, role_in(self.actor, p.pk)) for p in page.items]
        return render(request, "projects/list.html", {
            "rows": rows, "next": page.next, "form": forms.ProjectCreateForm(),
            "can_create": can(self.actor, Action.PROJECT_CREATE),
        })

    def post(self, request: HttpRequest) -> HttpResponse:
        created: dict = {}

        def create(data: dict) -> str:
            project = services.project_create(
                actor=self.actor, name=data["name"], description=data["description"],
                sensitivity=Sensitivity(data["sensitivity"]))
            created["url"] = f"/projects/{project.pk}"
            return f"Project {project.name!r} was created; you are its owner."

        response = post_and_redirect(request, forms.ProjectCreateForm(request.POST), create, "/")
        return HttpResponseRedirect(created["url"]) if created else response


class ProjectDetailView(PageView):
    def get(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = selectors.project_get(actor=self.actor, project_id=project_id)
        locked = lacks_second_factor(self.actor, project)
        can_list = can(self.actor, Action.MEMBER_LIST, project)
        members = (selectors.member_list(actor=self.actor, project=project, limit=500).items
                   if can_list else [])
        rows = [(m, forms.MemberRoleForm(initial={"role": m.role}, auto_id=f"role-{m.pk}-%s"))
                for m in members]
        return render(request, "projects/detail.html", {
            "project": project,
            "my_role": role_in(self.actor, project.pk),
            "members": rows,
            "can_list_members": can_list,
            "can_manage_members": can(self.actor, Action.MEMBER_ADD, project),
            "can_read_audit": can(self.actor, Action.PROJECT_AUDIT_READ, project),
            "can_see_tasks": can(self.actor, Action.TASK_PROGRESS_VIEW, project),
            **_quality(self.actor, project),
            "note": current_note(project),
            "readiness": (readiness_checks(project, names=not locked)
                          if project.status == "draft"
                          and can(self.actor, Action.READINESS_VIEW, project) else None),
            "can_see_privacy": can(self.actor, Action.PRIVACY_REPORT_VIEW, project),
            "can_see_releases": can(self.actor, Action.SNAPSHOT_VIEW, project),
            "access": (access_report(actor=self.actor, project=project)
                       if can(self.actor, Action.ACCESS_REPORT_VIEW, project) else None),
            "can_edit_note": can(self.actor, Action.NOTE_EDIT, project),
            "add_form": forms.MemberAddForm(),
            "lacks_second_factor": locked,
            "images": None if locked else asset_list(actor=self.actor, project=project,
                                                     cursor=request.GET.get("cursor")),
            "can_upload": can(self.actor, Action.IMAGE_UPLOAD, project),
            "storage": (storage_report(actor=self.actor, project=project)
                        if can(self.actor, Action.STORAGE_REPORT_VIEW, project) else None),
            "locations": (location_names(actor=self.actor, project=project)
                          if can(self.actor, Action.PROJECT_UPDATE, project) else []),
        })


def _quality(actor: Actor, project: Project) -> dict:
    if not can(actor, Action.REVIEW_QUEUE_VIEW, project):
        return {"quality": None}
    rows = review_selectors.quality(actor=actor, project=project)
    bars = review_selectors.acceptance_bars(rows)
    return {"quality": rows, "bars": bars, "chart_height": 16 + 26 * len(bars)}


class _MemberFormView(PageView):
    def return_to(self, **kwargs: Any) -> str:
        return f"/projects/{kwargs['project_id']}"


class MemberAddView(_MemberFormView):
    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = selectors.project_get(actor=self.actor, project_id=project_id)

        def add(data: dict) -> str:
            services.member_add(actor=self.actor, project=project, username=data["username"],
                                role=Role(data["role"]))
            return f"{data['username']} was added as {data['role']}."

        return post_and_redirect(request, forms.MemberAddForm(request.POST), add,
                                 f"/projects/{project.pk}")


class MemberUpdateView(_MemberFormView):
    def post(self, request: HttpRequest, project_id: int, username: str) -> HttpResponse:
        project = selectors.project_get(actor=self.actor, project_id=project_id)

        def change(data: dict) -> str:
            services.member_change_role(actor=self.actor, project=project, username=username,
                                        role=Role(data["role"]))
            return f"{username} is now {data['role']}."

        return post_and_redirect(request, forms.MemberRoleForm(request.POST), change,
                                 f"/projects/{project.pk}")


class MemberRemoveView(_MemberFormView):
    def post(self, request: HttpRequest, project_id: int, username: str) -> HttpResponse:
        project = selectors.project_get(actor=self.actor, project_id=project_id)
        services.member_remove(actor=self.actor, project=project, username=username)
        messages.success(request, f"{username} was removed from the project.")
        return HttpResponseRedirect(f"/projects/{project.pk}")


class ProjectActivateView(_MemberFormView):
    def post(self, request: HttpRequest, project_id: int) -> HttpResponse:
        project = selectors.project_get(actor=self.actor, project_id=project_id)
        activate(actor=self.actor, project=project)
        messages.success(request, "The project is active.")
        return HttpResponseRedirect(f"/projects/{project.pk}")
