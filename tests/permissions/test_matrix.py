"""Every API endpoint x every kind of caller, with the expected status derived from the
policy tables. An endpoint added without a case here fails `test_every_endpoint_has_a_case`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labelop.accounts.models import ApiToken
from labelop.audit.models import AuditEvent
from labelop.core.api import api
from labelop.permissions import Action, Role
from labelop.permissions.actions import Principal
from labelop.permissions.matrix import (
    ASSIGNED_ONLY,
    INSTANCE_MATRIX,
    PROJECT_MATRIX,
    SESSION_ONLY,
)
from tests import images
from tests.conftest import PASSWORD, WHO, Api, World, api_for, session_api

CALLERS = ("anonymous", *WHO)
ROLE_OF = {"owner": Role.OWNER, "reviewer": Role.REVIEWER, "annotator": Role.ANNOTATOR}
PRINCIPALS = {
    "owner": {Principal.USER, Principal.PROJECT_OWNER},
    # The outsider owns a project of their own: PROJECT_OWNER, but not of this project.
    "outsider": {Principal.USER, Principal.PROJECT_OWNER},
    "reviewer": {Principal.USER},
    "annotator": {Principal.USER},
    "site_admin": {Principal.USER, Principal.SITE_ADMIN},
}

SCOPED = object()  # any signed-in caller succeeds; the rows are narrowed by scope()
PUBLIC = object()  # no sign-in needed


@dataclass
class Case:
    operation_id: str
    method: str
    path: Callable[[World], str]
    ok: int
    action: object  # an Action, SCOPED or PUBLIC
    body: Callable[[World], object] | None = None
    mutates: bool = field(default=True)
    session: bool = False  # call with a browser session instead of an API token
    form: Callable[[World], dict] | None = None  # a multipart upload
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.operation_id}:{self.method}{':session' if self.session else ''}"


def _newest_token_id() -> int:
    newest = ApiToken.objects.order_by("pk").last()  # the caller's own token, made just before
    return newest.pk if newest else 1


def _p(w: World) -> str:
    return f"/projects/{w.project.pk}"


def _t(w: World) -> int:
    return w.asset.task.pk  # assigned to the annotator


def _snapshot(w: World, name: str = "given") -> int:
    """A snapshot of the world's project, taken by its owner."""
    from labelop.releases.services import snapshot_create

    return snapshot_create(actor=w.actor("owner"), project=w.project, name=name).pk


def _export(w: World) -> int:
    """A finished export of a snapshot of the world's project."""
    from labelop.jobs.models import Job
    from labelop.releases.exports import export_run, export_start
    from labelop.releases.models import Snapshot

    snapshot = Snapshot.objects.get(pk=_snapshot(w, "exported"))
    export = export_start(actor=w.actor("owner"), snapshot=snapshot, format="labelop",
                          images="none")
    export_run(Job.objects.get(pk=export.job_id))
    return export.pk


def _asked(w: World) -> int:
    """An exception another owner asked for (the caller may approve it)."""
    from datetime import timedelta

    from django.utils import timezone

    from labelop.privacy.models import PolicyException

    return PolicyException.objects.create(project=w.project, action="profile:standard",
                                          reason="pilot", requested_by=w.users["target"],
                                          expires_at=timezone.now() + timedelta(days=1)).pk


def _submitted(w: World) -> int:
    """The world's task, handed in by its annotator."""
    from labelop.annotations.models import Task, TaskState

    Task.objects.filter(pk=_t(w)).update(state=TaskState.SUBMITTED)
    return _t(w)


def _escalated(w: World) -> int:
    """Escalate the world's task (as its annotator did) and name the escalation."""
    from labelop.annotations.models import Escalation, Task, TaskState

    Task.objects.filter(pk=_t(w)).update(state=TaskState.ESCALATED)
    return Escalation.objects.create(task_id=_t(w), project=w.project, reason="unclear",
                                     raised_by=w.users["annotator"],
                                     previous_state=TaskState.ASSIGNED).pk


TOKEN_CASES = [  # the session-only actions, tried with an API token: always refused
    Case("accounts_totp_begin", "POST", lambda w: "/me/totp", 201, Action.TWO_FACTOR_ENROL),
    Case("accounts_totp_confirm", "POST", lambda w: "/me/totp/confirm", 409,
         Action.TWO_FACTOR_ENROL, body=lambda w: {"code": "123456"}),
    Case("accounts_token_create", "POST", lambda w: "/tokens", 201, Action.TOKEN_CREATE,
         body=lambda w: {"name": "minted by a token"}),
    Case("accounts_token_create", "POST", lambda w: "/tokens", 201,
         Action.TOKEN_SCOPE_TO_PROJECT, body=lambda w: {"name": "x", "project": w.project.pk}),
]

CASES = [
    Case("core_health_get", "GET", lambda w: "/health", 200, PUBLIC, mutates=False),
    Case("accounts_csrf_get", "GET", lambda w: "/auth/csrf", 200, PUBLIC, mutates=False),
    Case("accounts_session_login", "POST", lambda w: "/auth/login", 200, PUBLIC,
         body=lambda w: {"username": "owner", "password": PASSWORD}),
    Case("accounts_session_logout", "POST", lambda w: "/auth/logout", 204, SCOPED,
         session=True),
    Case("accounts_me_get", "GET", lambda w: "/me", 200, SCOPED, mutates=False),
    Case("accounts_password_change", "POST", lambda w: "/me/password", 422, SCOPED,
         body=lambda w: {"current_password": "wrong", "new_password": "x"}),
    Case("accounts_token_list", "GET", lambda w: "/tokens", 200, Action.TOKEN_MANAGE_OWN,
         mutates=False),
    Case("accounts_token_create", "POST", lambda w: "/tokens", 201, Action.TOKEN_CREATE,
         body=lambda w: {"name": "ci"}, session=True),
    Case("accounts_token_create", "POST", lambda w: "/tokens", 201,
         Action.TOKEN_SCOPE_TO_PROJECT, body=lambda w: {"name": "ci", "project": w.project.pk},
         session=True),
    Case("accounts_token_revoke", "DELETE", lambda w: f"/tokens/{_newest_token_id()}", 204,
         Action.TOKEN_MANAGE_OWN),
    Case("accounts_totp_begin", "POST", lambda w: "/me/totp", 201, Action.TWO_FACTOR_ENROL,
         session=True),
    Case("accounts_totp_confirm", "POST", lambda w: "/me/totp/confirm", 409,
         Action.TWO_FACTOR_ENROL, body=lambda w: {"code": "123456"}, session=True),
    Case("accounts_user_list", "GET", lambda w: "/users", 200, Action.USER_MANAGE, mutates=False),
    Case("accounts_user_create", "POST", lambda w: "/users", 201, Action.USER_MANAGE,
         body=lambda w: {"username": "newcomer"}),
    Case("accounts_user_update", "PATCH", lambda w: "/users/target", 200, Action.USER_MANAGE,
         body=lambda w: {"is_active": False}),
    Case("projects_project_list", "GET", lambda w: "/projects", 200, SCOPED, mutates=False),
    Case("projects_project_create", "POST", lambda w: "/projects", 201, Action.PROJECT_CREATE,
         body=lambda w: {"name": "New", "sensitivity": "local_only"}),
    Case("projects_project_get", "GET", _p, 200, Action.PROJECT_VIEW, mutates=False),
    Case("projects_project_update", "PATCH", _p, 200, Action.PROJECT_UPDATE,
         body=lambda w: {"name": "Renamed"}),
    Case("projects_member_list", "GET", lambda w: f"{_p(w)}/members", 200, Action.MEMBER_LIST,
         mutates=False),
    Case("projects_member_add", "POST", lambda w: f"{_p(w)}/members", 201, Action.MEMBER_ADD,
         body=lambda w: {"username": "site_admin", "role": "annotator"}),
    Case("projects_member_update", "PATCH", lambda w: f"{_p(w)}/members/target", 200,
         Action.MEMBER_CHANGE, body=lambda w: {"role": "reviewer"}),
    Case("projects_member_remove", "DELETE", lambda w: f"{_p(w)}/members/target", 204,
         Action.MEMBER_REMOVE),
    Case("audit_event_list", "GET", lambda w: "/audit", 200, SCOPED, mutates=False),
    Case("audit_event_list", "GET", lambda w: f"/audit?project={w.project.pk}", 200,
         Action.PROJECT_AUDIT_READ, mutates=False),
    Case("audit_chain_verify", "GET", lambda w: "/audit/verify", 200, Action.AUDIT_VERIFY,
         mutates=False),
    Case("audit_event_export", "GET", lambda w: "/audit/export?format=csv", 200, SCOPED),
    Case("assets_image_upload", "POST", lambda w: f"{_p(w)}/images", 200, Action.IMAGE_UPLOAD,
         form=lambda w: {"files": [SimpleUploadedFile("new.jpg", images.jpeg(seed=77))]}),
    Case("assets_import_start", "POST", lambda w: f"{_p(w)}/imports", 202, Action.IMAGE_UPLOAD,
         body=lambda w: {"folder": str(w.import_root)}),
    # As the editor fetches it (restricted keeps originals in the editor: test_profile_rows).
    Case("assets_image_content", "GET", lambda w: f"/images/{w.asset.pk}/content", 200,
         Action.IMAGE_VIEW, session=True, headers={"Sec-Fetch-Dest": "image"}),
    Case("assets_image_redacted", "GET", lambda w: f"/images/{w.asset.pk}/redacted", 200,
         Action.IMAGE_VIEW, session=True, headers={"Sec-Fetch-Dest": "image"}),
    Case("assets_image_thumbnail", "GET", lambda w: f"/images/{w.asset.pk}/thumbnail", 200,
         Action.IMAGE_VIEW),
    Case("jobs_job_get", "GET", lambda w: f"/jobs/{w.job.pk}", 200, Action.JOB_VIEW,
         mutates=False),
    Case("storage_location_list", "GET", lambda w: "/storage/locations", 200,
         Action.STORAGE_MANAGE, mutates=False),
    Case("storage_location_create", "POST", lambda w: "/storage/locations", 201,
         Action.STORAGE_MANAGE, body=lambda w: {
             "name": "scans", "kind": "local", "encryption": "server",
             "params": {"path": str(w.import_root.parent / "scans")}}),
    Case("storage_key_rotate", "POST",
         lambda w: f"/storage/locations/{w.asset.location_id}/rotate-key", 200,
         Action.STORAGE_MANAGE, body=lambda w: {}),
    Case("storage_report_get", "GET", lambda w: f"{_p(w)}/storage", 200,
         Action.STORAGE_REPORT_VIEW, mutates=False),
    Case("storage_project_set", "PUT", lambda w: f"{_p(w)}/storage", 200, Action.PROJECT_UPDATE,
         body=lambda w: {"location": "local"}),
    Case("labeling_labels_get", "GET", lambda w: f"{_p(w)}/labels", 200, Action.LABELS_VIEW,
         mutates=False),
    Case("labeling_labels_put", "PUT", lambda w: f"{_p(w)}/labels", 200, Action.LABELS_EDIT,
         body=lambda w: {"labels": [{"name": "lesion", "kind": "polygon"}]}),
    Case("labeling_task_list", "GET", lambda w: f"{_p(w)}/tasks", 200, Action.PROJECT_VIEW,
         mutates=False),
    Case("labeling_task_next", "GET", lambda w: f"{_p(w)}/tasks/next", 200, Action.PROJECT_VIEW,
         mutates=False),
    Case("labeling_task_progress", "GET", lambda w: f"{_p(w)}/tasks/progress", 200,
         Action.TASK_PROGRESS_VIEW, mutates=False),
    Case("labeling_task_assign", "POST", lambda w: f"{_p(w)}/tasks/assign", 200,
         Action.TASK_ASSIGN, body=lambda w: {"annotator": "target", "task_ids": [_t(w)]}),
    Case("labeling_task_unassign", "POST", lambda w: f"{_p(w)}/tasks/unassign", 200,
         Action.TASK_ASSIGN, body=lambda w: {"task_ids": [_t(w)]}),
    Case("labeling_task_get", "GET", lambda w: f"/tasks/{_t(w)}", 200, Action.TASK_VIEW,
         mutates=False),
    Case("labeling_annotation_get", "GET", lambda w: f"/tasks/{_t(w)}/annotation", 200,
         Action.TASK_VIEW, mutates=False),
    Case("labeling_annotation_put", "PUT", lambda w: f"/tasks/{_t(w)}/annotation", 200,
         Action.ANNOTATION_EDIT, body=lambda w: {"shapes": []}, headers={"If-Match": "0"}),
    Case("labeling_annotation_history", "GET", lambda w: f"/tasks/{_t(w)}/history", 200,
         Action.TASK_VIEW, mutates=False),
    Case("labeling_task_submit", "POST", lambda w: f"/tasks/{_t(w)}/submit", 200,
         Action.TASK_SUBMIT, body=lambda w: {}),
    Case("labeling_task_escalate", "POST", lambda w: f"/tasks/{_t(w)}/escalate", 201,
         Action.TASK_ESCALATE, body=lambda w: {"reason": "possible consent issue"}),
    Case("labeling_escalation_resolve", "POST", lambda w: f"/escalations/{_escalated(w)}/resolve",
         200, Action.ESCALATION_RESOLVE, body=lambda w: {"resolution": "consent on file"}),
    Case("review_settings_get", "GET", lambda w: f"{_p(w)}/review-settings", 200,
         Action.PROJECT_VIEW, mutates=False),
    Case("review_settings_put", "PUT", lambda w: f"{_p(w)}/review-settings", 200,
         Action.REVIEW_SETTINGS_EDIT, body=lambda w: {"redaction_rules": ["all faces"]}),
    Case("review_queue_list", "GET", lambda w: f"{_p(w)}/review-queue", 200,
         Action.REVIEW_QUEUE_VIEW, mutates=False),
    Case("review_task_review", "POST", lambda w: f"/tasks/{_submitted(w)}/review", 200,
         Action.TASK_REVIEW, body=lambda w: {"decision": "accept"}),
    Case("review_escalation_list", "GET", lambda w: f"{_p(w)}/escalations", 200,
         Action.REVIEW_QUEUE_VIEW, mutates=False),
    Case("review_quality_get", "GET", lambda w: f"{_p(w)}/quality", 200,
         Action.REVIEW_QUEUE_VIEW, mutates=False),
    Case("privacy_note_get", "GET", lambda w: f"{_p(w)}/note", 200, Action.PROJECT_VIEW,
         mutates=False),
    Case("privacy_note_publish", "POST", lambda w: f"{_p(w)}/note", 201, Action.NOTE_EDIT,
         body=lambda w: {"sensitive_data": "faces", "processing_path": "local",
                         "reviewers": "reviewers", "escalation": "owner"}),
    Case("privacy_policy_get", "GET", lambda w: f"{_p(w)}/policy", 200, Action.PROJECT_VIEW,
         mutates=False),
    Case("privacy_policy_put", "PUT", lambda w: f"{_p(w)}/policy", 200, Action.POLICY_EDIT,
         body=lambda w: {"sensitivity": "local_only"}),
    Case("privacy_data_path_get", "GET", lambda w: f"{_p(w)}/data-path", 200,
         Action.PRIVACY_REPORT_VIEW, mutates=False),
    Case("privacy_readiness_get", "GET", lambda w: f"{_p(w)}/readiness", 200,
         Action.READINESS_VIEW, mutates=False),
    Case("projects_project_activate", "POST", lambda w: f"{_p(w)}/activate", 409,
         Action.PROJECT_UPDATE, mutates=False),
    Case("privacy_access_report_get", "GET", lambda w: f"{_p(w)}/access-report", 200,
         Action.ACCESS_REPORT_VIEW, mutates=False),
    Case("privacy_exception_request", "POST", lambda w: f"{_p(w)}/exceptions", 201,
         Action.EXCEPTION_MANAGE,
         body=lambda w: {"action": "profile:standard", "reason": "vendor pilot"}),
    Case("privacy_exception_approve", "POST", lambda w: f"/exceptions/{_asked(w)}/approve", 200,
         Action.EXCEPTION_MANAGE),
    Case("releases_snapshot_create", "POST", lambda w: f"{_p(w)}/snapshots", 201,
         Action.SNAPSHOT_CREATE, body=lambda w: {"name": "release"}),
    Case("releases_snapshot_list", "GET", lambda w: f"{_p(w)}/snapshots", 200,
         Action.SNAPSHOT_VIEW, mutates=False),
    Case("releases_snapshot_get", "GET", lambda w: f"/snapshots/{_snapshot(w)}", 200,
         Action.SNAPSHOT_VIEW, mutates=False),
    Case("releases_snapshot_manifest", "GET", lambda w: f"/snapshots/{_snapshot(w)}/manifest",
         200, Action.SNAPSHOT_VIEW),
    Case("releases_snapshot_diff", "GET",
         lambda w: f"/snapshots/{_snapshot(w)}/diff/{_snapshot(w, 'later')}", 200,
         Action.SNAPSHOT_VIEW, mutates=False),
    Case("releases_export_start", "POST", lambda w: f"/snapshots/{_snapshot(w)}/exports", 202,
         Action.EXPORT_CREATE, body=lambda w: {"format": "labelop", "images": "none"}),
    Case("releases_export_download", "GET", lambda w: f"/exports/{_export(w)}/download", 200,
         Action.EXPORT_CREATE),
    Case("releases_label_import_start", "POST", lambda w: f"{_p(w)}/label-imports", 202,
         Action.LABELS_IMPORT, form=lambda w: {
             "file": SimpleUploadedFile("coco.json", b'{"images":[],"annotations":[]}'),
             "format": "coco", "dry_run": "true"}),
    Case("releases_public_key", "GET", lambda w: "/instance/public-key", 200, PUBLIC,
         mutates=False),
    Case("inference_model_list", "GET", lambda w: "/models", 200, Action.MODEL_LIST,
         mutates=False),
    Case("inference_model_register_external", "POST", lambda w: "/models/external", 201,
         Action.MODEL_MANAGE, body=lambda w: {"name": "detector-x", "url": "http://127.0.0.1:9/",
                                              "allow_private_network": True}),
    Case("inference_start", "POST", lambda w: f"{_p(w)}/inference", 202, Action.INFERENCE_RUN,
         body=lambda w: {"model": "faces"}),  # local: every profile allows it
    Case("inference_suggest_redactions_project", "POST",
         lambda w: f"{_p(w)}/suggest-redactions", 202, Action.INFERENCE_RUN),
    Case("inference_suggest_redactions", "POST",
         lambda w: f"/tasks/{_t(w)}/suggest-redactions", 201, Action.ANNOTATION_EDIT),
    Case("inference_predictions", "GET", lambda w: f"/tasks/{_t(w)}/predictions", 200,
         Action.TASK_VIEW, mutates=False),
]


def expected_status(case: Case, who: str) -> int:
    """What the policy tables say this caller gets."""
    if case.action is PUBLIC:
        return case.ok
    if who == "anonymous":
        return 401
    if not case.session and case.action in SESSION_ONLY:
        return 403
    if case.action is SCOPED:
        return case.ok
    if case.action in INSTANCE_MATRIX:
        return case.ok if PRINCIPALS[who] & INSTANCE_MATRIX[case.action] else 403
    role = ROLE_OF.get(who)
    if role is None:
        return 404  # not a member: the project is hidden, not forbidden
    if role not in PROJECT_MATRIX[case.action]:
        return 403
    if role in ASSIGNED_ONLY.get(case.action, ()) and who != "annotator":
        return 403  # the world's task is the annotator's: others see it, but it is not theirs
    return case.ok


def test_every_endpoint_has_a_case() -> None:
    schema = api.get_openapi_schema()
    served = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
    assert served == {c.operation_id for c in CASES}


def test_every_action_is_in_a_matrix() -> None:
    assert set(Action) == set(PROJECT_MATRIX) | set(INSTANCE_MATRIX)


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("case", CASES + TOKEN_CASES, ids=str)
def test_authorization_matrix(image_world: World, case: Case, who: str) -> None:
    world = image_world
    user = world.users.get(who)
    client = (session_api(user) if case.session and user else Api() if case.session
              else api_for(user))
    path = case.path(world)  # objects the case needs exist (and are audited) before counting
    body = case.body(world) if case.body else None
    events_before = AuditEvent.objects.count()
    want = expected_status(case, who)

    if case.form:
        response = client.client.post(f"/api/v1{path}", case.form(world),
                                      headers=client.headers)
    else:
        response = client.call(case.method, path, body, **case.headers)

    assert response.status_code == want, response.content
    if want >= 400:
        assert response["Content-Type"] == "application/problem+json"
        if case.mutates or want in (401, 403, 404):
            assert AuditEvent.objects.count() == events_before, "a refusal wrote an audit event"
