"""Reads for accounts, scoped by the policy."""

from __future__ import annotations

from dataclasses import dataclass

from labelop.accounts.models import ApiToken, User
from labelop.core.pagination import Page, paginate
from labelop.permissions import Action, Actor, require, scope


def token_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page[ApiToken]:
    """The actor's own tokens (a project-scoped token sees only its project's tokens)."""
    tokens = scope(actor, Action.TOKEN_MANAGE_OWN, ApiToken.objects.filter(user=actor.user))
    if actor.scoped_project_id is not None:
        tokens = tokens.filter(project_id=actor.scoped_project_id)
    return paginate(tokens, cursor=cursor, limit=limit)


@dataclass(frozen=True)
class TwoFactor:
    enrolled: bool  # a confirmed authenticator app
    this_session: bool  # this session or token was signed in with the second factor
    pending_secret: str | None  # an enrolment waiting for its first code
    pending_uri: str | None


def two_factor(*, actor: Actor) -> TwoFactor:
    """Where the actor stands with their second factor (their own account only)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from labelop.accounts.services import totp_secret

    devices = list(TOTPDevice.objects.filter(user=actor.user))
    pending = next((d for d in devices if not d.confirmed), None)
    return TwoFactor(enrolled=any(d.confirmed for d in devices), this_session=actor.second_factor,
                     pending_secret=totp_secret(pending) if pending else None,
                     pending_uri=pending.config_url if pending else None)


def user_id(username: str) -> int | None:
    """The id behind a username, for filters: lists then filter on an indexed id column."""
    return User.objects.filter(username=username).values_list("pk", flat=True).first()


def user_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page[User]:
    require(actor, Action.USER_MANAGE)
    return paginate(User.objects.all(), cursor=cursor, limit=limit)
