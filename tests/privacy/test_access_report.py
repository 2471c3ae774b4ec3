from __future__ import annotations

from datetime import timedelta

from django.db import connection

from labelop.annotations.models import Task, TaskState
from labelop.audit.models import AuditEvent
from labelop.core import append_only
from tests.conftest import World, api_for, session_api
from tests.labeling import make_tasks


def test_access_report_figures(image_world: World) -> None:
    world = image_world
    p = world.project.pk
    asset = world.asset  # its task is the annotator's
    more = make_tasks(world.project, 4)
    Task.objects.filter(pk=more[0].pk).update(assignee=world.users["target"],
                                             state=TaskState.ASSIGNED)
    annotator = session_api(world.users["annotator"])
    for _ in range(3):  # three views of one image in the editor count once
        assert annotator.get(f"/images/{asset.pk}/content",
                             **{"Sec-Fetch-Dest": "image"}).status_code == 200
    api_for(world.users["reviewer"]).get(f"/images/{asset.pk}/thumbnail")

    # A view older than 30 days is not counted (moved back behind the trigger's back).
    old = AuditEvent.objects.get(action="image.viewed", actor=world.users["reviewer"])
    append_only.uninstall(connection, "audit_auditevent")
    AuditEvent.objects.filter(pk=old.pk).update(time=old.time - timedelta(days=31))
    append_only.install(connection, "audit_auditevent")

    body = api_for(world.users["owner"]).get(f"/projects/{p}/access-report").json()
    rows = {r["username"]: r for r in body["items"]}
    assert (rows["owner"]["role"], rows["owner"]["tasks_visible"]) == ("owner", 5)
    assert rows["reviewer"]["tasks_visible"] == 5
    assert (rows["annotator"]["tasks_visible"], rows["annotator"]["images_visible"]) == (1, 1)
    assert rows["target"]["tasks_visible"] == 1
    assert rows["annotator"]["images_viewed_30d"] == 1
    assert rows["reviewer"]["images_viewed_30d"] == 0
    assert rows["annotator"]["last_activity"] is not None
    assert rows["target"]["last_activity"] is None
    for who, status in (("reviewer", 403), ("annotator", 403), ("outsider", 404)):
        assert api_for(world.users[who]).get(f"/projects/{p}/access-report").status_code == (
            status)


def test_owners_see_it_on_the_project_page(world: World) -> None:
    from tests.pages.test_pages import _signed_in

    assert 'data-testid="access-report"' in _signed_in("owner").get(
        f"/projects/{world.project.pk}").content.decode()
    assert 'data-testid="access-report"' not in _signed_in("reviewer").get(
        f"/projects/{world.project.pk}").content.decode()
