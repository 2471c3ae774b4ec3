"""Who is acting: a user, possibly through an API token, possibly a system job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelop.accounts.models import ApiToken, User


@dataclass
class Actor:
    user: User
    token: ApiToken | None = None
    # Whether this session or token was opened with a second factor (TOTP or recovery code).
    second_factor: bool = False
    # Memo of (project id -> role or None) for this request; the policy fills it.
    roles: dict[int, str | None] = field(default_factory=dict, repr=False)
    # Projects (among those in `roles`) whose policy requires a second factor.
    second_factor_projects: set[int] = field(default_factory=set, repr=False)

    @classmethod
    def for_job(cls, user: User | None) -> Actor | None:
        """Whom a background job acts for (None: the console operator). Their second factor
        was proven when they asked for the job, so the job checks their role again, not
        that."""
        return cls(user=user, second_factor=True) if user is not None else None

    @property
    def scoped_project_id(self) -> int | None:
        return self.token.project_id if self.token is not None else None

    @property
    def name(self) -> str:
        return self.user.get_username()
