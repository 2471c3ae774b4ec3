"""Reads for accounts, scoped by the policy."""

from __future__ import annotations

from labelop.accounts.models import ApiToken, User
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, require, scope


def token_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page[ApiToken]:
    """The actor's own tokens (a project-scoped token sees only its project's tokens)."""
    tokens = scope(actor, Action.TOKEN_MANAGE_OWN, ApiToken.objects.filter(user=actor.user))
    if actor.scoped_project_id is not None:
        tokens = tokens.filter(project_id=actor.scoped_project_id)
    return paginate(tokens, cursor=cursor, limit=limit)


def user_id(username: str) -> int | None:
    """The id behind a username, for filters: lists then filter on an indexed id column."""
    return User.objects.filter(username=username).values_list("pk", flat=True).first()


def user_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page[User]:
    require(actor, Action.USER_MANAGE)
    return paginate(User.objects.all(), cursor=cursor, limit=limit)
