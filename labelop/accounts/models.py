"""Users and API tokens."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac


class User(AbstractUser):
    # Set for accounts whose password someone else chose (first start, created by an admin):
    # until they pick their own, the API refuses everything but the password change.
    must_change_password = models.BooleanField(default=False)
    # Bumped to end every session of the account at once (deactivation): sessions carry a
    # hash of the password and this number, and Django drops a session whose hash differs.
    session_epoch = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # "Bob" and "bob" are one person to whoever reads the audit log.
            models.UniqueConstraint(Lower("username"), name="username_unique_ignoring_case"),
        ]

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        return salted_hmac("labelop.accounts.User.session", f"{self.password}:{self.session_epoch}",
                           secret=secret, algorithm="sha256").hexdigest()

    @property
    def is_site_admin(self) -> bool:
        """Manages the instance (users, storage, models); sees no project data by this alone."""
        return self.is_superuser


class ApiToken(models.Model):
    """A bearer token; only the SHA-256 of the secret is stored (it has 256 bits of entropy,
    so a slow hash adds nothing)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)  # shown in lists so people can tell tokens apart
    digest = models.CharField(max_length=64, unique=True)
    project = models.ForeignKey("projects.Project", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Created in a session signed in with a second factor: it may act in projects whose
    # policy requires one (a token carries the proof of the session that made it).
    second_factor = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
