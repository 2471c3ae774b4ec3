from __future__ import annotations

from django.middleware.csrf import get_token
from ninja import Router, Status
from ninja.utils import check_csrf

from labelop.accounts import schemas, selectors, services
from labelop.core.auth import ApiRequest, SessionAuth, signed_in
from labelop.core.errors import Forbidden

auth_router = Router(tags=["auth"])
me_router = Router(tags=["auth"], auth=signed_in(allow_pending_password=True))
tokens_router = Router(tags=["tokens"])
users_router = Router(tags=["users"])


@auth_router.get("/csrf", auth=None, response=schemas.CsrfOut, operation_id="accounts_csrf_get",
                 summary="Set the csrftoken cookie and return its value")
def csrf(request: ApiRequest) -> dict:
    return {"csrf_token": get_token(request)}


@auth_router.post("/login", auth=None, response=schemas.MeOut,
                  operation_id="accounts_session_login", summary="Start a browser session")
def login(request: ApiRequest, body: schemas.LoginIn) -> object:
    if check_csrf(request) is not None:  # login needs CSRF as much as any session POST
        raise Forbidden("CSRF verification failed: GET /api/v1/auth/csrf first and send the "
                        "X-CSRFToken header.", code="csrf_failed")
    user = services.session_login(request=request, username=body.username,
                                  password=body.password, otp=body.otp)
    return _me(user, None)


@auth_router.post("/logout", auth=SessionAuth(allow_pending_password=True), response={204: None},
                  operation_id="accounts_session_logout", summary="End the browser session")
def logout(request: ApiRequest) -> Status:
    services.session_logout(request=request, actor=request.auth)
    return Status(204, None)


def _me(user: object, token_project: int | None) -> dict:
    return {"id": user.pk, "username": user.username, "site_admin": user.is_site_admin,  # type: ignore[attr-defined]
            "must_change_password": user.must_change_password,  # type: ignore[attr-defined]
            "token_project": token_project}


@me_router.get("", response=schemas.MeOut, operation_id="accounts_me_get",
               summary="Who the caller is")
def me(request: ApiRequest) -> dict:
    actor = request.auth
    return _me(actor.user, actor.scoped_project_id)


@me_router.post("/password", response={204: None}, operation_id="accounts_password_change",
                summary="Change the caller's own password")
def password_change(request: ApiRequest, body: schemas.PasswordChangeIn) -> Status:
    services.password_change(actor=request.auth, current=body.current_password,
                             new=body.new_password, request=request)
    return Status(204, None)


@me_router.post("/totp", response={201: schemas.TotpBeginOut}, operation_id="accounts_totp_begin",
                summary="Start enrolling an authenticator app (TOTP); browser session only")
def totp_begin(request: ApiRequest) -> Status:
    secret, uri = services.totp_begin(actor=request.auth)
    return Status(201, {"secret": secret, "otpauth_uri": uri})


@me_router.post("/totp/confirm", response=schemas.TotpConfirmedOut,
                operation_id="accounts_totp_confirm",
                summary="Confirm it with a code from the app; answers recovery codes once")
def totp_confirm(request: ApiRequest, body: schemas.TotpConfirmIn) -> dict:
    return {"recovery_codes": services.totp_confirm(actor=request.auth, code=body.code,
                                                        request=request)}


@tokens_router.get("", response=schemas.TokenPage, operation_id="accounts_token_list",
                   summary="The caller's API tokens")
def token_list(request: ApiRequest, cursor: str | None = None, limit: int = 50) -> object:
    return selectors.token_list(actor=request.auth, cursor=cursor, limit=limit)


@tokens_router.post("", response={201: schemas.TokenCreatedOut},
                    operation_id="accounts_token_create",
                    summary="Create an API token; its secret is shown only in this answer")
def token_create(request: ApiRequest, body: schemas.TokenCreateIn) -> Status:
    token, raw = services.token_create(actor=request.auth, name=body.name, project_id=body.project,
                                       expires_in_days=body.expires_in_days)
    token.token = raw  # type: ignore[attr-defined]
    return Status(201, token)


@tokens_router.delete("/{token_id}", response={204: None}, operation_id="accounts_token_revoke",
                      summary="Revoke one of the caller's tokens")
def token_revoke(request: ApiRequest, token_id: int) -> Status:
    services.token_revoke(actor=request.auth, token_id=token_id)
    return Status(204, None)


@users_router.get("", response=schemas.UserPage, operation_id="accounts_user_list",
                  summary="All accounts (site admin)")
def user_list(request: ApiRequest, cursor: str | None = None, limit: int = 50) -> object:
    return selectors.user_list(actor=request.auth, cursor=cursor, limit=limit)


@users_router.post("", response={201: schemas.UserCreatedOut}, operation_id="accounts_user_create",
                   summary="Create an account with a one-time password (site admin)")
def user_create(request: ApiRequest, body: schemas.UserCreateIn) -> Status:
    user, password = services.user_create(actor=request.auth, username=body.username,
                                          site_admin=body.site_admin)
    user.one_time_password = password  # type: ignore[attr-defined]
    return Status(201, user)


@users_router.patch("/{username}", response=schemas.UserOut, operation_id="accounts_user_update",
                    summary="Deactivate or reactivate an account (site admin)")
def user_update(request: ApiRequest, username: str, body: schemas.UserUpdateIn) -> object:
    return services.user_set_active(actor=request.auth, username=username, active=body.is_active)
