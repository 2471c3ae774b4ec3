"""Attacks that hit annotation platforms before, tried against LabelOp: script stored in the
texts people write, on every page that shows them; an export link kept by someone who lost
the role; tokens in logs and URLs; ids of others' tasks and images told apart from nothing;
a diff across two projects; revoking someone else's token.
(CSRF on the page forms and SSRF through S3 endpoints: test_forms_and_endpoints.py. Uploads
of SVG, HTML and bombs, zip-slip, SSRF through model endpoints, the API's CSRF, open redirects
and user enumeration have their tests beside the code they attack: assets, releases/formats,
inference, accounts, pages.)"""

from __future__ import annotations

import logging

import pytest

from labelop.accounts.services import token_create
from labelop.annotations.models import Escalation, Task, TaskState
from labelop.assets.models import Asset
from labelop.permissions import Actor
from labelop.privacy.models import OperatingNote
from labelop.projects.models import Membership, Project, Role
from labelop.releases.services import snapshot_create
from labelop.review.models import ReviewDecision
from tests.conftest import World, api_for, run_jobs, session_api
from tests.labeling import LABELS, make_tasks

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
PAYLOAD = SCRIPT + IMG


def test_script_in_every_stored_text_is_shown_as_text(labeled: World) -> None:
    world, project = labeled, labeled.project
    owner, annotator = world.users["owner"], world.users["annotator"]
    task = world.tasks[0]
    Project.objects.filter(pk=project.pk).update(
        name=PAYLOAD, description=PAYLOAD, labels=[*LABELS, {"name": PAYLOAD[:100], "kind": "tag",
                                        "color": "#123456", "attributes": []}])
    Asset.objects.filter(pk=task.asset_id).update(original_name=IMG + ".jpg")
    OperatingNote.objects.create(project=project, version=1, sensitive_data=PAYLOAD,
                                 processing_path=PAYLOAD, reviewers=PAYLOAD, escalation=PAYLOAD,
                                 author=owner, author_name=PAYLOAD)
    Escalation.objects.create(task=task, project=project, reason=PAYLOAD, note=PAYLOAD,
                              raised_by=annotator, previous_state=TaskState.ASSIGNED)
    ReviewDecision.objects.create(task=world.tasks[1], project=project, decision="reject",
                                  comment=PAYLOAD, version=1, reviewer=owner,
                                  reviewer_name=PAYLOAD, annotator=annotator)
    boss = Actor(user=owner, second_factor=True)
    token_create(actor=boss, name=PAYLOAD)
    project.refresh_from_db()
    first, second = (snapshot_create(actor=boss, project=project, name=PAYLOAD + n).pk
                     for n in "12")
    p = project.pk
    pages = {"owner": ["/", f"/projects/{p}", f"/projects/{p}/tasks", f"/projects/{p}/note",
                       f"/projects/{p}/escalations", f"/projects/{p}/review",
                       f"/projects/{p}/releases", f"/projects/{p}/data-path",
                       f"/projects/{p}/exceptions", f"/tasks/{task.pk}", "/audit", "/tokens",
                       f"/snapshots/{first}/report/{second}"],
             "annotator": [f"/projects/{p}/queue", f"/tasks/{task.pk}"]}
    shown = 0
    for who, paths in pages.items():
        client = session_api(world.users[who]).client
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (who, path, response.status_code)
            html = response.content.decode()
            assert "<script>alert" not in html, (who, path)
            assert "<img src=x" not in html, (who, path)
            shown += "&lt;script&gt;alert(1)" in html or "\\u003Cscript\\u003Ealert" in html
    assert shown >= 10  # the texts were on the pages, escaped


@pytest.mark.django_db(transaction=True)  # the job runs in its own transaction
@pytest.mark.parametrize("loss", ["demoted", "removed"])
def test_an_export_link_stops_working_when_its_maker_loses_the_role(image_world: World,
                                                                    loss: str) -> None:
    world = image_world
    Project.objects.filter(pk=world.project.pk).update(review_required=False)
    Task.objects.filter(project=world.project).update(state=TaskState.SUBMITTED)
    maker = world.users["reviewer"]
    Membership.objects.filter(project=world.project, user=maker).update(role=Role.OWNER)
    api = api_for(maker)
    snapshot = api.post(f"/projects/{world.project.pk}/snapshots", {"name": "v1"}).json()["id"]
    export = api.post(f"/snapshots/{snapshot}/exports",
                      {"format": "coco", "images": "none"}).json()["export"]
    run_jobs()
    assert api.get(f"/exports/{export}/download").status_code == 200

    members = Membership.objects.filter(project=world.project, user=maker)
    if loss == "demoted":  # still a member: told why (the role), as the matrix answers
        members.update(role=Role.ANNOTATOR)
    else:  # no longer a member: the export does not exist for them
        members.delete()

    refused = api.get(f"/exports/{export}/download")
    assert refused.status_code == {"demoted": 403, "removed": 404}[loss]
    assert refused["Content-Type"] == "application/problem+json"
    assert api_for(world.users["owner"]).get(f"/exports/{export}/download").status_code == 200


def test_tokens_never_reach_the_logs_or_urls(labeled: World,
                                            caplog: pytest.LogCaptureFixture) -> None:
    from labelop.accounts.services import token_create
    from labelop.permissions import Actor

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.request")  # every 4xx is logged
    _, good = token_create(actor=Actor(user=labeled.users["owner"], second_factor=True),
                           name="t")
    bad = good[:-4] + "abcd"
    for token in (good, bad):
        api = api_for(None)
        api.headers = {"Authorization": f"Bearer {token}"}
        api.get(f"/projects/{labeled.project.pk}")
        api.get("/projects/999999")
        api.post(f"/tasks/{labeled.tasks[0].pk}/submit", {"oops": 1})
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "Not Found" in logged  # the requests were logged
    assert good[8:] not in logged
    assert bad[8:] not in logged
    # A token in a URL would land in every proxy's access log: it is not accepted there.
    for name in ("token", "access_token", "api_key"):
        assert api_for(None).get(f"/projects?{name}={good}").status_code == 401


def test_nothing_of_another_team_is_told_apart_from_nothing(labeled: World) -> None:
    """IDOR by counting: ids of tasks, images, snapshots, exports and jobs one may not see
    answer exactly as ids that do not exist."""
    other = make_tasks(labeled.other_project, 1, created_by=labeled.users["outsider"])[0]
    annotator, outsider = (api_for(labeled.users[w]) for w in ("annotator", "outsider"))
    hidden, foreign = labeled.tasks[1], other  # not the annotator's; another team's
    tries = [(api, f"/tasks/{task.pk}{rest}", f"/tasks/987654{rest}")
             for api, task in ((annotator, hidden), (annotator, foreign), (outsider, hidden))
             for rest in ("", "/annotation", "/history", "/predictions")]
    tries += [(api, f"/images/{task.asset_id}/{what}", f"/images/987654/{what}")
              for api, task in ((annotator, hidden), (annotator, foreign), (outsider, hidden))
              for what in ("content", "thumbnail", "redacted")]
    owner = api_for(labeled.users["owner"])
    snapshot = owner.post(f"/projects/{labeled.project.pk}/snapshots", {"name": "v1"}).json()
    export = owner.post(f"/snapshots/{snapshot['id']}/exports",
                        {"format": "coco", "images": "none"}).json()
    tries += [(outsider, path.format(s=snapshot["id"], x=export["export"], j=export["job"]),
               path.format(s=987654, x=987654, j=987654))
              for path in ("/snapshots/{s}", "/snapshots/{s}/manifest", "/snapshots/{s}/diff/{s}",
                           "/exports/{x}/download", "/jobs/{j}")]
    for api, path, missing in tries:
        got, none = api.get(path), api.get(missing)
        assert got.status_code == none.status_code == 404, (path, got.status_code)
        assert got.json() == {**none.json(), "detail": got.json()["detail"]}, path


def test_a_diff_never_mixes_two_projects_and_nobody_revokes_anothers_token(
        labeled: World) -> None:
    world = labeled
    owner = world.users["owner"]
    Membership.objects.get_or_create(project=world.other_project, user=owner,
                                     defaults={"role": Role.OWNER})
    boss = Actor(user=owner, second_factor=True)
    mine = snapshot_create(actor=boss, project=world.project, name="mine").pk
    theirs = snapshot_create(actor=boss, project=world.other_project, name="theirs").pk
    api = api_for(owner)

    answer = api.get(f"/snapshots/{mine}/diff/{theirs}")
    assert (answer.status_code, answer.json()["code"]) == (422, "other_project")
    assert session_api(owner).client.get(f"/snapshots/{mine}/report/{theirs}").status_code in (
        404, 422)

    token, secret = token_create(actor=Actor(user=world.users["annotator"], second_factor=True),
                                 name="theirs")
    browser = session_api(owner)
    page = browser.client.post(f"/tokens/{token.pk}/revoke", headers=browser.headers)
    assert page.status_code == 404
    assert api_for(None).client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {secret}"}).status_code == 200
