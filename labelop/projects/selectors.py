"""Reads for projects, already scoped by the policy."""

from __future__ import annotations

from labelop.core.errors import NotFound
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, remember_roles, require, scope
from labelop.projects.models import Membership, Project


def project_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page[Project]:
    """Projects the actor is a member of, oldest first (the actor's roles come along)."""
    page = paginate(scope(actor, Action.PROJECT_VIEW, Project.objects.all()),
                    cursor=cursor, limit=limit)
    remember_roles(actor, [p.pk for p in page.items])
    return page


def project_get(*, actor: Actor, project_id: int, action: Action = Action.PROJECT_VIEW
                ) -> Project:
    """The project if the actor may perform `action` on it (404 if it may not see it)."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise NotFound("Not found.")
    require(actor, action, project)
    return project


def member_list(*, actor: Actor, project: Project, cursor: str | None = None, limit: int = 100
                ) -> Page[Membership]:
    require(actor, Action.MEMBER_LIST, project)
    return paginate(Membership.objects.filter(project=project).select_related("user"),
                    cursor=cursor, limit=limit)
