"""Every audited action, one enum: dotted, lowercase, past tense."""

from enum import StrEnum


class AuditAction(StrEnum):
    AUTH_LOGGED_IN = "auth.logged_in"
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_LOCKED_OUT = "auth.locked_out"
    AUTH_LOGGED_OUT = "auth.logged_out"
    PASSWORD_CHANGED = "password.changed"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    TOKEN_CREATED = "token.created"
    TOKEN_REVOKED = "token.revoked"
    PROJECT_CREATED = "project.created"
    PROJECT_UPDATED = "project.updated"
    MEMBER_ADDED = "member.added"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    AUDIT_EXPORTED = "audit.exported"
    STORAGE_LOCATION_CREATED = "storage.location_created"
    STORAGE_KEY_ROTATED = "storage.key_rotated"
    IMAGE_IMPORTED = "image.imported"
    IMAGE_VIEWED = "image.viewed"
    IMPORT_STARTED = "import.started"
