"""The role x action matrix, as data. Anything absent here is denied.

Tests walk every cell of these tables against real objects; an endpoint whose action is
not listed fails the authorization matrix test.
"""

from __future__ import annotations

from labelop.permissions.actions import Action, Principal, Role

OWNER, REVIEWER, ANNOTATOR = Role.OWNER, Role.REVIEWER, Role.ANNOTATOR
ALL_ROLES = frozenset(Role)

PROJECT_MATRIX: dict[Action, frozenset[Role]] = {
    Action.PROJECT_VIEW: ALL_ROLES,
    Action.PROJECT_UPDATE: frozenset({OWNER}),
    Action.MEMBER_LIST: frozenset({OWNER, REVIEWER}),
    Action.MEMBER_ADD: frozenset({OWNER}),
    Action.MEMBER_CHANGE: frozenset({OWNER}),
    Action.MEMBER_REMOVE: frozenset({OWNER}),
    Action.PROJECT_AUDIT_READ: frozenset({OWNER}),
    Action.TOKEN_SCOPE_TO_PROJECT: ALL_ROLES,
    Action.IMAGE_UPLOAD: frozenset({OWNER}),
    Action.IMAGE_VIEW: ALL_ROLES,
    Action.JOB_VIEW: frozenset({OWNER}),
    Action.STORAGE_REPORT_VIEW: frozenset({OWNER}),
    Action.LABELS_VIEW: ALL_ROLES,
    Action.LABELS_EDIT: frozenset({OWNER}),
    Action.LABELS_IMPORT: frozenset({OWNER}),
    Action.TASK_VIEW: ALL_ROLES,
    Action.TASK_ASSIGN: frozenset({OWNER}),
    Action.TASK_PROGRESS_VIEW: frozenset({OWNER, REVIEWER}),
    # Reviewers and owners correct shapes; annotators edit their own tasks.
    Action.ANNOTATION_EDIT: ALL_ROLES,
    Action.TASK_SUBMIT: ALL_ROLES,
    Action.TASK_ESCALATE: ALL_ROLES,
    Action.ESCALATION_RESOLVE: frozenset({OWNER, REVIEWER}),
    Action.TASK_REVIEW: frozenset({OWNER, REVIEWER}),
    Action.REVIEW_QUEUE_VIEW: frozenset({OWNER, REVIEWER}),
    Action.REVIEW_SETTINGS_EDIT: frozenset({OWNER}),
    Action.NOTE_EDIT: frozenset({OWNER}),
    Action.POLICY_EDIT: frozenset({OWNER}),
    # Data path and readiness name the members: for those who may list them.
    Action.PRIVACY_REPORT_VIEW: frozenset({OWNER, REVIEWER}),
    Action.READINESS_VIEW: frozenset({OWNER, REVIEWER}),
    Action.ACCESS_REPORT_VIEW: frozenset({OWNER}),
    Action.EXCEPTION_MANAGE: frozenset({OWNER}),
    # Sending a project's images through a model is an owner's decision (the profile may
    # still forbid the model: privacy.profiles.model_refusal).
    Action.INFERENCE_RUN: frozenset({OWNER}),
    Action.SNAPSHOT_CREATE: frozenset({OWNER}),
    # Reviewers check what was released; a manifest holds every shape of the project.
    Action.SNAPSHOT_VIEW: frozenset({OWNER, REVIEWER}),
    # Exports leave the product: owners make and download them.
    Action.EXPORT_CREATE: frozenset({OWNER}),
}

# Actions nobody takes on a task assigned to them: reviewing one's own work.
NOT_ON_OWN_TASK = frozenset({Action.TASK_REVIEW})

# Roles that reach only the objects assigned to them for an action (annotators see the
# images of their own tasks, nothing else in the project).
ASSIGNED_ONLY: dict[Action, frozenset[Role]] = {
    Action.IMAGE_VIEW: frozenset({ANNOTATOR}),
    Action.TASK_VIEW: frozenset({ANNOTATOR}),
    Action.ANNOTATION_EDIT: frozenset({ANNOTATOR}),
    Action.TASK_SUBMIT: ALL_ROLES,  # only the person the task is assigned to submits it
    Action.TASK_ESCALATE: frozenset({ANNOTATOR}),
}

INSTANCE_MATRIX: dict[Action, frozenset[Principal]] = {
    Action.PROJECT_CREATE: frozenset({Principal.USER}),
    Action.USER_MANAGE: frozenset({Principal.SITE_ADMIN}),
    Action.INSTANCE_AUDIT_READ: frozenset({Principal.SITE_ADMIN}),
    # The whole chain spans every project: verifying it is an instance concern.
    Action.AUDIT_VERIFY: frozenset({Principal.SITE_ADMIN}),
    Action.TOKEN_MANAGE_OWN: frozenset({Principal.USER}),
    Action.TOKEN_CREATE: frozenset({Principal.USER}),
    Action.STORAGE_MANAGE: frozenset({Principal.SITE_ADMIN}),
    Action.TWO_FACTOR_ENROL: frozenset({Principal.USER}),
    Action.MODEL_LIST: frozenset({Principal.USER}),
    Action.MODEL_MANAGE: frozenset({Principal.SITE_ADMIN}),
}

# Only a person in a browser session may do these: a leaked API token must not be able to
# mint a longer-lived or wider copy of itself.
SESSION_ONLY = frozenset({Action.TOKEN_CREATE, Action.TOKEN_SCOPE_TO_PROJECT,
                          Action.TWO_FACTOR_ENROL})

# A token scoped to one project may act only inside it; of the instance actions it keeps
# only listing and revoking the caller's own tokens.
SCOPED_TOKEN_INSTANCE_ACTIONS = frozenset({Action.TOKEN_MANAGE_OWN})

# In a project whose policy requires a second factor, what a member without one may still do:
# see the project, why it is not ready (without names) and its operating note (owners: write
# it), so that setting up starts before enrolment. Everything near the images or the people
# needs the second factor; the policy answers 403 two_factor_required.
BEFORE_SECOND_FACTOR = frozenset({Action.PROJECT_VIEW, Action.NOTE_EDIT, Action.READINESS_VIEW})
