"""can / require / scope: the only code that reads roles or the site-admin flag."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, OuterRef, Q, QuerySet, Subquery

from labelop.core.errors import Forbidden, NotFound
from labelop.core.prepared import Prepared
from labelop.permissions.actions import Action, Principal, Role
from labelop.permissions.actor import Actor
from labelop.permissions.matrix import (
    ASSIGNED_ONLY,
    BEFORE_SECOND_FACTOR,
    INSTANCE_MATRIX,
    NOT_ON_OWN_TASK,
    PROJECT_MATRIX,
    SCOPED_TOKEN_INSTANCE_ACTIONS,
    SESSION_ONLY,
)

M = TypeVar("M", bound=Model)
SECOND_FACTOR_MISSING = (
    "This project requires two-factor authentication. Enrol an authenticator app on the page "
    "/two-factor (or POST /api/v1/me/totp), then sign in again with its code; API tokens for "
    "this project must be created from a session signed in that way.")
# How each model reaches the assignee of its task, for ASSIGNED_ONLY narrowing in scope().
_ASSIGNEE_PATH = {"Asset": "task__assignee", "Task": "assignee"}


def _project_id_of(obj: Any) -> int | None:
    """The project an object belongs to: a Project, or anything with a project_id."""
    from labelop.projects.models import Project

    if isinstance(obj, Project):
        return obj.pk
    return getattr(obj, "project_id", None)


def _membership(project_id: int, user_id: int) -> QuerySet:
    from labelop.projects.models import Membership

    return (Membership.objects.filter(project_id=project_id, user_id=user_id)
            .select_related("project").only("role", "project__sensitivity", "project__policy"))


# Read on most requests (and after a task write's lock): compiled once, see core.prepared.
_MEMBERSHIP = Prepared(_membership, project_id=int, user_id=int)


def role_in(actor: Actor, project_id: int) -> Role | None:
    """The actor's role in a project (None for non-members and out-of-scope tokens)."""
    if not actor.user.is_active:
        return None
    if actor.scoped_project_id is not None and actor.scoped_project_id != project_id:
        return None
    if project_id not in actor.roles:
        found = _MEMBERSHIP.one(project_id=project_id, user_id=actor.user.pk)
        if found is None:
            remember_role(actor, project_id, None)
        else:
            remember_role(actor, project_id, found.role, found.project.sensitivity,
                          found.project.policy)
    role = actor.roles[project_id]
    return Role(role) if role else None


def remember_roles(actor: Actor, project_ids: list[int]) -> None:
    """Load the actor's roles in many projects with one query (lists call this first)."""
    from labelop.projects.models import Membership

    missing = [pk for pk in project_ids if pk not in actor.roles]
    if not missing:
        return
    found = {pk: rest for pk, *rest in Membership.objects.filter(
        user=actor.user, project_id__in=missing).values_list(
        "project_id", "role", "project__sensitivity", "project__policy")}
    for pk in missing:
        remember_role(actor, pk, *found.get(pk, (None, None, None)))


def role_column(user_id: int, project: str = "project_id") -> Subquery:
    """The user's role in the row's project (`project` names its column), as a column of
    the query that reads the row; hand it to remember_role."""
    from labelop.projects.models import Membership

    return Subquery(Membership.objects.filter(project=OuterRef(project), user_id=user_id)
                    .values("role")[:1])


def remember_role(actor: Actor, project_id: int, role: str | None,
                  sensitivity: str | None = None, policy: dict | None = None) -> None:
    """Record the actor's role in a project and whether the project's policy requires a
    second factor, read by a selector in the same query as the object (one round trip fewer
    on the hottest reads); role_in still applies every rule."""
    from labelop.privacy.profiles import second_factor_required

    actor.roles[project_id] = role
    if role is not None and sensitivity is not None and second_factor_required(sensitivity,
                                                                               policy):
        actor.second_factor_projects.add(project_id)


def _principals(actor: Actor) -> set[Principal]:
    from labelop.projects.models import Membership

    user = actor.user
    if not user.is_active:
        return set()
    found = {Principal.USER}
    if user.is_site_admin:
        found.add(Principal.SITE_ADMIN)
    owned = Membership.objects.filter(user=user, role=Role.OWNER)
    if actor.scoped_project_id is not None:
        owned = owned.filter(project_id=actor.scoped_project_id)
    if owned.exists():
        found.add(Principal.PROJECT_OWNER)
    return found


def can(actor: Actor | None, action: Action, obj: Any = None) -> bool:
    """Whether the actor may perform `action` (on `obj`, for project-scoped actions)."""
    return _permitted(actor, action, obj) and not _second_factor_missing(actor, action, obj)


def _second_factor_missing(actor: Actor | None, action: Action, obj: Any) -> bool:
    """Whether the project's policy requires a second factor this session or token lacks
    (known once role_in has looked the actor's membership up)."""
    if actor is None or actor.second_factor or action in BEFORE_SECOND_FACTOR:
        return False
    return action not in INSTANCE_MATRIX and _project_id_of(obj) in actor.second_factor_projects


def lacks_second_factor(actor: Actor, project: Any) -> bool:
    """Whether the project requires a second factor this member's session or token lacks
    (pages say so up front instead of failing section by section)."""
    return role_in(actor, project.pk) is not None and _second_factor_missing(
        actor, Action.TASK_VIEW, project)


def _permitted(actor: Actor | None, action: Action, obj: Any) -> bool:
    """`can`, before the second-factor rule."""
    if actor is None:
        return False
    if actor.token is not None and action in SESSION_ONLY:
        return False
    if action in INSTANCE_MATRIX:
        if actor.scoped_project_id is not None and action not in SCOPED_TOKEN_INSTANCE_ACTIONS:
            return False
        return bool(_principals(actor) & INSTANCE_MATRIX[action])
    allowed = PROJECT_MATRIX.get(action)
    project_id = _project_id_of(obj)
    if allowed is None or project_id is None:
        return False  # deny by default: unknown action or no project context
    role = role_in(actor, project_id)
    if role is None or role not in allowed:
        return False
    if role in ASSIGNED_ONLY.get(action, ()):
        return _assigned_to(actor, obj)
    return not (action in NOT_ON_OWN_TASK and _assigned_to(actor, obj))


def _assigned_to(actor: Actor, obj: Any) -> bool:
    """Whether `obj` (an asset or a task) belongs to a task assigned to the actor."""
    from labelop.annotations.models import Task
    from labelop.assets.models import Asset

    if isinstance(obj, Task):
        return obj.assignee_id == actor.user.pk
    if isinstance(obj, Asset):
        return Task.objects.filter(asset=obj, assignee=actor.user).exists()
    return False  # deny by default: a project alone is not an assigned object


def require(actor: Actor | None, action: Action, obj: Any = None) -> None:
    """Raise unless `can`: NotFound when the object is hidden from the actor, else Forbidden."""
    if can(actor, action, obj):
        return
    if _permitted(actor, action, obj):
        raise Forbidden(SECOND_FACTOR_MISSING, code="two_factor_required")
    if actor is not None and actor.token is not None and action in SESSION_ONLY:
        raise Forbidden(f"{action.value} needs a browser session, not an API token.",
                        code="session_required")
    if action in INSTANCE_MATRIX:
        raise Forbidden(f"This account may not perform {action.value}.")
    project_id = _project_id_of(obj)
    if project_id is None or actor is None or not can(actor, Action.PROJECT_VIEW, obj):
        raise NotFound("Not found.")
    if action in NOT_ON_OWN_TASK and _assigned_to(actor, obj):
        raise Forbidden("Nobody reviews their own work; another reviewer or owner must.",
                        code="own_work")
    if role_in(actor, project_id) in ASSIGNED_ONLY.get(action, ()):
        if action is Action.TASK_VIEW or not can(actor, Action.TASK_VIEW, obj):
            raise NotFound("Not found.")  # not assigned to them: as if it did not exist
        raise Forbidden(f"Only the person this task is assigned to may do {action.value}.",
                        code="not_assignee")
    raise Forbidden(f"Your role in this project does not allow {action.value}.")


def scope(actor: Actor | None, action: Action, qs: QuerySet[M], *, project: Any = None
          ) -> QuerySet[M]:
    """Narrow `qs` to the rows on which the actor may perform `action`. Given the one
    `project` the rows belong to, the narrowing is a plain filter on the actor's role there
    (an annotator's tasks come straight from the assignee index, at any depth)."""
    from labelop.projects.models import Membership, Project

    if actor is None or not actor.user.is_active:
        return qs.none()
    if action in INSTANCE_MATRIX:
        return qs if can(actor, action) else qs.none()
    roles = PROJECT_MATRIX.get(action)
    if roles is None:
        return qs.none()
    if project is not None:
        role = role_in(actor, project.pk)
        if role is None or role not in roles:
            return qs.none()
        if _second_factor_missing(actor, action, project):
            raise Forbidden(SECOND_FACTOR_MISSING, code="two_factor_required")
        qs = qs.filter(project_id=project.pk)
        if role in ASSIGNED_ONLY.get(action, ()):
            return qs.filter(**{_ASSIGNEE_PATH[qs.model.__name__]: actor.user})
        return qs
    memberships = Membership.objects.filter(user=actor.user, role__in=roles)
    if actor.scoped_project_id is not None:
        memberships = memberships.filter(project_id=actor.scoped_project_id)
    if not (actor.second_factor or action in BEFORE_SECOND_FACTOR or qs.model is Project):
        from labelop.privacy.profiles import second_factor_projects

        # Lists spanning projects leave out those needing a factor this caller lacks; the
        # project list keeps them, so people learn why they cannot open one.
        # (by id: a JSON key lookup on a policy without the key is NULL, and NOT NULL would
        # drop every project)
        memberships = memberships.exclude(project_id__in=Project.objects.filter(
            second_factor_projects()).values("pk"))
    project_ids = memberships.values("project_id")
    if qs.model is Project:
        return qs.filter(pk__in=project_ids)
    narrowed = ASSIGNED_ONLY.get(action, frozenset())
    if not narrowed:
        return qs.filter(project_id__in=project_ids)
    wide = project_ids.exclude(role__in=narrowed)
    return qs.filter(Q(project_id__in=wide) | Q(project_id__in=project_ids, **{
        _ASSIGNEE_PATH[qs.model.__name__]: actor.user}))
