"""The vocabulary of the policy: project roles and the actions they may be granted."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"


class Action(StrEnum):
    # Project-scoped: decided by the caller's role in the object's project.
    PROJECT_VIEW = "project.view"
    PROJECT_UPDATE = "project.update"
    MEMBER_LIST = "member.list"
    MEMBER_ADD = "member.add"
    MEMBER_CHANGE = "member.change"
    MEMBER_REMOVE = "member.remove"
    PROJECT_AUDIT_READ = "project.audit.read"
    TOKEN_SCOPE_TO_PROJECT = "token.scope"
    IMAGE_UPLOAD = "image.upload"
    IMAGE_VIEW = "image.view"
    JOB_VIEW = "job.view"
    STORAGE_REPORT_VIEW = "storage.report.view"
    LABELS_VIEW = "labels.view"
    LABELS_EDIT = "labels.edit"
    LABELS_IMPORT = "labels.import"
    TASK_VIEW = "task.view"
    TASK_ASSIGN = "task.assign"
    TASK_PROGRESS_VIEW = "task.progress.view"
    ANNOTATION_EDIT = "annotation.edit"
    TASK_SUBMIT = "task.submit"
    TASK_ESCALATE = "task.escalate"
    ESCALATION_RESOLVE = "escalation.resolve"
    TASK_REVIEW = "task.review"
    REVIEW_QUEUE_VIEW = "review.queue.view"
    REVIEW_SETTINGS_EDIT = "review.settings.edit"
    NOTE_EDIT = "note.edit"
    POLICY_EDIT = "policy.edit"
    PRIVACY_REPORT_VIEW = "privacy.report.view"
    READINESS_VIEW = "readiness.view"
    ACCESS_REPORT_VIEW = "access.report.view"
    EXCEPTION_MANAGE = "exception.manage"
    INFERENCE_RUN = "inference.run"
    SNAPSHOT_CREATE = "snapshot.create"
    SNAPSHOT_VIEW = "snapshot.view"
    EXPORT_CREATE = "export.create"

    # Instance-scoped: decided by who the caller is on this instance.
    PROJECT_CREATE = "project.create"
    USER_MANAGE = "user.manage"
    INSTANCE_AUDIT_READ = "instance.audit.read"
    AUDIT_VERIFY = "audit.verify"
    TOKEN_MANAGE_OWN = "token.manage_own"
    TOKEN_CREATE = "token.create"
    TWO_FACTOR_ENROL = "two_factor.enrol"
    STORAGE_MANAGE = "storage.manage"
    MODEL_LIST = "model.list"
    MODEL_MANAGE = "model.manage"


class Principal(StrEnum):
    """Who a caller is on the instance, for instance-scoped actions."""

    USER = "user"  # any signed-in, active account
    SITE_ADMIN = "site_admin"
    PROJECT_OWNER = "project_owner"  # owner of at least one project
