"""Writes for accounts: logins, passwords, users, API tokens. Each one audited."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta
from typing import Any

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate, login, logout, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from labelop.accounts.models import ApiToken, User
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Conflict, Invalid, NotAuthenticated, NotFound, Throttled
from labelop.core.prepared import Prepared
from labelop.permissions import Action, Actor, require
from labelop.projects.models import Project

TOKEN_PREFIX = "lop_"
BOOTSTRAP_ADMIN = "admin"
# last_used_at is a hint for the access report, not a log: write it at most this often.
_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def _generated_password() -> str:
    return secrets.token_urlsafe(18)


def _validated_password(password: str, user: User) -> str:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), code="weak_password") from None
    return password


def _login_target(username: str) -> str:
    """Name a login attempt's account without keeping what was typed for unknown names:
    people paste passwords into the username field, and the audit log is forever."""
    if User.objects.filter(username=username).exists():
        return f"user:{username}"
    return f"user:unknown#{hashlib.sha256(username.encode()).hexdigest()[:12]}"


def session_login(*, request: HttpRequest, username: str, password: str, otp: str = ""
                  ) -> User:
    """Check credentials (throttled by django-axes) and, for an account with a second factor,
    the code from its authenticator app or one recovery code (throttled by django-otp); then
    start a browser session, marked as signed in with the second factor.

    Failures are recorded and committed before the error is raised: a refused login must
    leave its trace even though the request fails.
    """
    was_locked = AxesProxyHandler.is_locked(request, {"username": username})
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        if not was_locked:  # the attempt that triggered the lock; not every knock after it
            record(actor=None, action=AuditAction.AUTH_LOCKED_OUT, target=_login_target(username))
        raise Throttled("Too many failed logins: this account is locked for a while from "
                        "this address.", code="login_locked")
    if not isinstance(user, User):
        record(actor=None, action=AuditAction.AUTH_LOGIN_FAILED, target=_login_target(username))
        raise NotAuthenticated("Wrong username or password.", code="login_failed")
    device = None
    if django_otp.user_has_device(user):
        device = django_otp.match_token(user, otp.replace(" ", "")) if otp else None
        if device is None:
            if otp:
                record(actor=None, action=AuditAction.AUTH_LOGIN_FAILED,
                       target=_login_target(username), details={"reason": "second factor"})
                raise NotAuthenticated("That code is wrong, expired or already used.",
                                       code="otp_wrong")
            raise NotAuthenticated("This account signs in with a second factor: enter the code "
                                   "your authenticator app shows, or one recovery code.",
                                   code="otp_required")
    with transaction.atomic():
        login(request, user)
        if device is not None:
            django_otp.login(request, device)
        record(actor=user, action=AuditAction.AUTH_LOGGED_IN, target=f"user:{user.username}",
               details={"method": _login_method(device)})
    return user


def _login_method(device: Any) -> str:
    if device is None:
        return "password"
    from django_otp.plugins.otp_static.models import StaticDevice

    if isinstance(device, StaticDevice):
        return f"password+recovery_code ({device.token_set.count()} left)"
    return "password+totp"


@transaction.atomic
def session_logout(*, request: HttpRequest, actor: Actor) -> None:
    record(actor=actor, action=AuditAction.AUTH_LOGGED_OUT, target=f"user:{actor.name}")
    logout(request)


@transaction.atomic
def password_change(*, actor: Actor, current: str, new: str, request: HttpRequest | None = None
                    ) -> None:
    """Change the actor's own password; keeps the current session valid."""
    user = actor.user
    if actor.token is not None:
        raise Invalid("Change passwords in a browser session, not with an API token.",
                      code="session_required")
    if not user.check_password(current):
        raise Invalid("The current password is wrong.", code="wrong_password")
    if new == current:
        raise Invalid("Choose a password different from the current one.", code="weak_password")
    user.set_password(_validated_password(new, user))
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    if request is not None:
        from django.contrib.auth import update_session_auth_hash

        update_session_auth_hash(request, user)
    record(actor=user, action=AuditAction.PASSWORD_CHANGED, target=f"user:{user.username}")


@transaction.atomic
def user_create(*, actor: Actor | None, username: str, site_admin: bool = False,
                password: str | None = None) -> tuple[User, str | None]:
    """Create an account. Without a password, one is generated, returned once and must be
    changed at first login. `actor=None` only for the command line, run by the operator."""
    if actor is not None:
        require(actor, Action.USER_MANAGE)
    taken = Conflict(f"The username {username!r} is taken.", code="username_taken")
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    user = User(username=username, is_superuser=site_admin, is_staff=site_admin)
    generated = None
    if password is None:
        generated = _generated_password()
        user.set_password(generated)
        user.must_change_password = True
    else:
        user.set_password(_validated_password(password, user))
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # created concurrently under another case
        raise taken from None
    record(actor=actor, action=AuditAction.USER_CREATED, target=f"user:{username}",
           details={"site_admin": site_admin, "password": "generated" if generated else "given"})
    return user, generated


@transaction.atomic
def user_set_active(*, actor: Actor, username: str, active: bool) -> User:
    """Deactivate or reactivate an account (accounts are never deleted: the audit log
    refers to them)."""
    require(actor, Action.USER_MANAGE)
    user = User.objects.select_for_update(no_key=True).filter(username=username).first()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    if user == actor.user and not active:
        raise Conflict("You cannot deactivate your own account.", code="self_deactivation")
    user.is_active = active
    user.session_epoch += 0 if active else 1  # deactivation ends every open session
    user.save(update_fields=["is_active", "session_epoch"])
    if not active:
        ApiToken.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())
    record(actor=actor, action=AuditAction.USER_UPDATED, target=f"user:{username}",
           details={"is_active": active})
    return user


def bootstrap_site_admin() -> tuple[str, str] | None:
    """On an empty instance, create the first site admin with a one-time password."""
    try:
        with transaction.atomic():
            if User.objects.exists():
                return None
            user, password = user_create(actor=None, username=BOOTSTRAP_ADMIN, site_admin=True)
    except IntegrityError:  # another process bootstrapped at the same moment
        return None
    assert password is not None
    return user.username, password


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(*, actor: Actor, name: str, project_id: int | None = None,
                 expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create an API token for the actor; the secret is returned here and never again."""
    require(actor, Action.TOKEN_CREATE)
    project = None
    if project_id is not None:
        project = Project.objects.filter(pk=project_id).first()
        require(actor, Action.TOKEN_SCOPE_TO_PROJECT, project or Project(pk=project_id))
    days = expires_in_days or settings.LABELOP_TOKEN_DEFAULT_DAYS
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}{secret}"
    now = timezone.now()
    token = ApiToken.objects.create(
        user=actor.user, name=name, prefix=raw[: len(TOKEN_PREFIX) + 6], digest=_digest(raw),
        project=project, created_at=now, expires_at=now + timedelta(days=days),
        second_factor=actor.second_factor,
    )
    record(actor=actor, action=AuditAction.TOKEN_CREATED, project=project,
           target=f"token:{token.pk}", details={"name": name, "expires_in_days": days,
                                                "second_factor": actor.second_factor})
    return token, raw


@transaction.atomic
def token_revoke(*, actor: Actor, token_id: int) -> ApiToken:
    require(actor, Action.TOKEN_MANAGE_OWN)
    token = (ApiToken.objects.select_for_update(no_key=True)
             .filter(pk=token_id, user=actor.user).first())
    if token is None:
        raise NotFound("Not found.")
    if actor.scoped_project_id is not None and token.project_id != actor.scoped_project_id:
        raise NotFound("Not found.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(actor=actor, action=AuditAction.TOKEN_REVOKED, project=token.project,
               target=f"token:{token.pk}", details={"name": token.name})
    return token


# Every API request's first query, compiled once (see core.prepared); digests are unique.
_TOKEN = Prepared(lambda digest: ApiToken.objects.select_related("user").filter(digest=digest),
                  digest=str)


def token_authenticate(raw: str) -> Actor | None:
    """The actor behind a bearer token, or None if it is unknown, expired or revoked."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = _TOKEN.one(digest=_digest(raw))
    if token is None:
        return None
    now = timezone.now()
    if not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > _TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return Actor(user=token.user, token=token, second_factor=token.second_factor)


# -- second factor (TOTP) --------------------------------------------------------------------

RECOVERY_CODES = 10


def totp_begin(*, actor: Actor) -> tuple[str, str]:
    """Start enrolling an authenticator app: a new secret (base32) and its otpauth:// URI for
    the QR code. Nothing counts until a code from the app confirms it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    require(actor, Action.TWO_FACTOR_ENROL)
    if TOTPDevice.objects.filter(user=actor.user, confirmed=True).exists():
        raise Conflict("A second factor is already enrolled for this account.",
                       code="already_enrolled")
    TOTPDevice.objects.filter(user=actor.user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=actor.user, name="authenticator app",
                                       confirmed=False)
    return totp_secret(device), device.config_url


def totp_secret(device: Any) -> str:
    """The secret as people type it into an app that cannot scan (base32, no padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


@transaction.atomic
def totp_confirm(*, actor: Actor, code: str, request: HttpRequest | None = None) -> list[str]:
    """Confirm the authenticator with one of its codes; answer recovery codes, shown once.
    The browser session that confirmed it counts as signed in with the second factor."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    require(actor, Action.TWO_FACTOR_ENROL)
    device = TOTPDevice.objects.select_for_update(no_key=True).filter(user=actor.user,
                                                          confirmed=False).first()
    if device is None:
        raise Conflict("No enrolment is in progress: start one first.",
                       code="no_enrolment")
    if not device.verify_token(code):  # throttled by django-otp after failures
        raise Invalid("That code is not the one the app shows now.", code="wrong_code")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=actor.user).delete()
    recovery = StaticDevice.objects.create(user=actor.user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
    record(actor=actor, action=AuditAction.TWO_FACTOR_ENROLLED, target=f"user:{actor.name}",
           details={"recovery_codes": len(codes)})
    if request is not None:
        django_otp.login(request, device)
    return codes
