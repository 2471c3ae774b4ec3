from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import Field, StringConstraints

from labelop.core.schemas import Id, In, Name, Username

Password = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]


class CsrfOut(Schema):
    csrf_token: str


class LoginIn(In):
    username: Annotated[str, StringConstraints(min_length=1, max_length=150,
                                               pattern=r"^[^\x00-\x1f\x7f]+$")]
    password: Password
    # The authenticator app's code or a recovery code; required once a second factor is
    # enrolled.
    otp: Annotated[str, StringConstraints(max_length=32)] = ""


class MeOut(Schema):
    id: int
    username: str
    site_admin: bool
    must_change_password: bool
    token_project: int | None = None


class PasswordChangeIn(In):
    current_password: Password
    new_password: Password


class TokenCreateIn(In):
    name: Name
    project: Id | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    project: int | None = Field(None, validation_alias="project_id")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret; shown only in this response.")


class TokenPage(Schema):
    items: list[TokenOut]
    next: str | None


class UserCreateIn(In):
    username: Username
    site_admin: bool = False


class UserOut(Schema):
    id: int
    username: str
    site_admin: bool = Field(validation_alias="is_site_admin")
    is_active: bool
    must_change_password: bool
    last_login: datetime | None


class UserCreatedOut(UserOut):
    password: str = Field(validation_alias="one_time_password",
                          description="One-time password; the user must change it at first login.")


class UserUpdateIn(In):
    is_active: bool


class UserPage(Schema):
    items: list[UserOut]
    next: str | None


class TotpBeginOut(Schema):
    secret: str = Field(description="Base32, for typing into the app by hand")
    otpauth_uri: str = Field(description="otpauth:// URI, for the QR code")


class TotpConfirmIn(In):
    code: str = Field(pattern=r"^\d{6}$")


class TotpConfirmedOut(Schema):
    recovery_codes: list[str] = Field(description="Each works once; shown only now")
