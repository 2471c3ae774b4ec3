"""Reads for projects, already scoped by the policy."""

from __future__ import annotations

from labelop.core.errors import NotFound
from labelop.core.pagination import Page, paginate
from labelop.core.prepared import Prepared
from labelop.permissions import (
    Action,
    Actor,
    remember_role,
    remember_roles,
    require,
    role_column,
    scope,
)
from labelop.projects.models import Membership, Project


def project_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page[Project]:
    """Projects the actor is a member of, oldest first (the actor's roles come along)."""
    page = paginate(scope(actor, Action.PROJECT_VIEW, Project.objects.all()),
                    cursor=cursor, limit=limit)
    remember_roles(actor, [p.pk for p in page.items])
    return page


# Read by every project-scoped request, with the caller's role; compiled once (core.prepared).
_PROJECT = Prepared(lambda project_id, caller_id: Project.objects.annotate(
    caller_role=role_column(caller_id, project="pk")).filter(pk=project_id),
    project_id=int, caller_id=int)


def project_get(*, actor: Actor, project_id: int, action: Action = Action.PROJECT_VIEW
                ) -> Project:
    """The project if the actor may perform `action` on it (404 if it may not see it)."""
    project = _PROJECT.one(project_id=project_id, caller_id=actor.user.pk)
    if project is None:
        raise NotFound("Not found.")
    remember_role(actor, project.pk, project.caller_role,  # type: ignore[attr-defined]
                  project.sensitivity, project.policy)
    require(actor, action, project)
    return project


def member_list(*, actor: Actor, project: Project, cursor: str | None = None, limit: int = 100
                ) -> Page[Membership]:
    require(actor, Action.MEMBER_LIST, project)
    return paginate(Membership.objects.filter(project=project).select_related("user"),
                    cursor=cursor, limit=limit)
