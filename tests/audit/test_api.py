from __future__ import annotations

import csv
import io
import json

from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from tests.conftest import World, api_for


def _stream(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_owner_reads_only_their_projects_events(world: World) -> None:
    record(actor=world.actor("outsider"), action=AuditAction.PROJECT_UPDATED,
           project=world.other_project, target="secret")
    record(actor=world.actor("owner"), action=AuditAction.PROJECT_UPDATED,
           project=world.project, target="mine")
    record(actor=None, action=AuditAction.USER_CREATED, target="user:x")

    items = api_for(world.users["owner"]).get("/audit").json()["items"]

    assert {e["project"] for e in items} == {world.project.pk}
    assert "secret" not in json.dumps(items)


def test_site_admin_reads_instance_events_only(world: World) -> None:
    record(actor=None, action=AuditAction.USER_CREATED, target="user:x")
    record(actor=world.actor("owner"), action=AuditAction.PROJECT_UPDATED, project=world.project)

    items = api_for(world.users["site_admin"]).get("/audit").json()["items"]

    assert [e["target"] for e in items if e["action"] == "user.created"] == ["user:x"]
    assert all(e["project"] is None for e in items)


def test_filters_and_newest_first_cursor_pages(world: World) -> None:
    owner = world.actor("owner")
    for i in range(7):
        record(actor=owner, action=AuditAction.PROJECT_UPDATED, project=world.project,
               target=f"t{i}")
    record(actor=world.actor("reviewer"), action=AuditAction.MEMBER_ADDED, project=world.project)
    client = api_for(world.users["owner"])
    query = f"/audit?project={world.project.pk}&action=project.updated&actor=owner&limit=5"

    first = client.get(query).json()
    second = client.get(f"{query}&cursor={first['next']}").json()

    targets = [e["target"] for e in first["items"] + second["items"]]
    assert targets == [f"t{i}" for i in reversed(range(7))]
    assert second["next"] is None
    since = client.get(f"/audit?since=2999-01-01T00:00:00Z&project={world.project.pk}").json()
    assert since["items"] == []


def test_event_wire_format(world: World) -> None:
    event = record(actor=world.actor("owner"), action=AuditAction.MEMBER_ADDED,
                   project=world.project, target="user:x", details={"role": "annotator"},
                   ip="10.0.0.7")

    client = api_for(world.users["owner"])
    item = client.get(f"/audit?project={world.project.pk}").json()["items"][0]

    assert item == {"seq": event.seq, "time": item["time"], "actor": "owner",
                    "action": "member.added", "project": world.project.pk,
                    "target": "user:x", "details": {"role": "annotator"}, "ip": "10.0.0.7",
                    "hash": event.hash}


def test_verify_endpoint_reports_the_chain(world: World) -> None:
    record(actor=None, action=AuditAction.USER_CREATED)

    body = api_for(world.users["site_admin"]).get("/audit/verify").json()

    assert body["ok"] is True
    assert body["first_broken_seq"] is None
    assert body["events"] >= 1


def test_export_streams_jsonl_and_csv_and_is_audited(world: World) -> None:
    record(actor=world.actor("owner"), action=AuditAction.PROJECT_UPDATED, project=world.project,
           target="=HYPERLINK(\"http://evil\")", details={"k": "v"})
    client = api_for(world.users["owner"])

    jsonl = client.get(f"/audit/export?format=jsonl&project={world.project.pk}")
    rows = [json.loads(line) for line in _stream(jsonl).splitlines()]
    as_csv = client.get(f"/audit/export?format=csv&project={world.project.pk}")
    table = list(csv.DictReader(io.StringIO(_stream(as_csv))))

    assert jsonl["Content-Type"] == "application/jsonl"
    assert jsonl["Cache-Control"] == "no-store"
    mine = [r for r in rows if r["action"] == "project.updated"]
    assert [r["details"] for r in mine] == [{"k": "v"}]
    assert rows[-1]["action"] == "audit.exported"  # the export is recorded before it streams
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    mine_csv = [r for r in table if r["action"] == "project.updated"]
    assert mine_csv[0]["target"].startswith("'=")  # no formula injection in spreadsheets
    assert json.loads(mine_csv[0]["details"]) == {"k": "v"}
    exported = client.get(f"/audit?action=audit.exported&project={world.project.pk}").json()
    assert len(exported["items"]) == 2
    assert exported["items"][0]["details"]["format"] == "csv"


def test_export_refuses_a_project_the_caller_cannot_read(world: World) -> None:
    response = api_for(world.users["reviewer"]).get(
        f"/audit/export?project={world.project.pk}")
    assert response.status_code == 403
