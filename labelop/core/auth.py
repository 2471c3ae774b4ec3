"""How an API request becomes an Actor: a bearer token, or a browser session with CSRF."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from labelop.core.errors import Forbidden
from labelop.permissions import Actor

PASSWORD_CHANGE_REQUIRED = (
    "This account's password was set by someone else: choose your own first "
    "(POST /api/v1/me/password, or the page /password)."
)


def session_actor(request: HttpRequest) -> Actor:
    """The signed-in person of a browser session; `second_factor` when the session was
    signed in with one (django-otp's middleware puts is_verified on the user)."""
    user = request.user
    return Actor(user=user, second_factor=user.is_verified())  # type: ignore[arg-type,union-attr]


def _checked(actor: Actor, allow_pending_password: bool) -> Actor:
    if actor.user.must_change_password and not allow_pending_password:
        raise Forbidden(PASSWORD_CHANGE_REQUIRED, code="password_change_required")
    return actor


class BearerAuth(HttpBearer):
    def __init__(self, *, allow_pending_password: bool = False) -> None:
        super().__init__()
        self.allow_pending_password = allow_pending_password

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        from labelop.accounts.services import token_authenticate

        actor = token_authenticate(token)
        return _checked(actor, self.allow_pending_password) if actor else None


class SessionAuth(APIKeyCookie):
    """Django's session cookie; ninja's APIKeyCookie enforces CSRF on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, *, allow_pending_password: bool = False) -> None:
        super().__init__(csrf=True)
        self.allow_pending_password = allow_pending_password

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return None
        return _checked(session_actor(request), self.allow_pending_password)


class ApiRequest(HttpRequest):
    """What endpoints receive: ninja puts the authenticated Actor on `auth`."""

    auth: Actor


def signed_in(*, allow_pending_password: bool = False) -> list:
    return [BearerAuth(allow_pending_password=allow_pending_password),
            SessionAuth(allow_pending_password=allow_pending_password)]
