from __future__ import annotations

import json

from labelop.audit.models import AuditEvent
from labelop.privacy.models import OperatingNote
from tests.conftest import World, api_for
from tests.pages.test_pages import _signed_in

ANSWERS = {
    "sensitive_data": "Faces and licence plates in street images; GDPR personal data.",
    "processing_path": "Stored on this server, encrypted; local models only; nothing leaves.",
    "reviewers": "Reviewers of the team check every redaction.",
    "escalation": "Escalate in the editor; the owner answers within a day.",
}


def _note(world: World) -> str:
    return f"/projects/{world.project.pk}/note"


def test_a_new_project_has_no_note_but_the_questions(world: World) -> None:
    body = api_for(world.users["annotator"]).get(_note(world)).json()
    assert body["version"] == 0
    assert [q["field"] for q in body["questions"]] == list(ANSWERS)
    assert all(q["hint"] for q in body["questions"])


def test_owners_publish_versions_everyone_reads_them(world: World) -> None:
    owner = api_for(world.users["owner"])
    first = owner.post(_note(world), ANSWERS)
    assert first.status_code == 201, first.content
    assert first.json()["version"] == 1
    second = owner.post(_note(world), {**ANSWERS, "escalation": "Call the DPO.", "based_on": 1})
    assert second.json()["version"] == 2
    for who in ("reviewer", "annotator"):
        body = api_for(world.users[who]).get(_note(world)).json()
        assert (body["version"], body["escalation"], body["author"]) == (2, "Call the DPO.",
                                                                          "owner")
    old = owner.get(f"{_note(world)}?version=1").json()
    assert old["escalation"] == ANSWERS["escalation"]
    assert owner.get(f"{_note(world)}?version=9").status_code == 404
    events = [json.loads(e.details) for e in AuditEvent.objects.filter(action="note.published")
              .order_by("seq")]
    assert events == [{"version": 1, "changed": list(ANSWERS)},
                      {"version": 2, "changed": ["escalation"]}]


def test_every_answer_is_required_and_stale_writes_refused(world: World) -> None:
    owner = api_for(world.users["owner"])
    empty = owner.post(_note(world), {**ANSWERS, "reviewers": "  "})
    assert empty.status_code == 422
    assert empty.json()["missing"] == ["Who can review it?"]
    owner.post(_note(world), ANSWERS)
    stale = owner.post(_note(world), {**ANSWERS, "based_on": 0})
    assert stale.status_code == 409
    assert stale.json()["current"] == 1
    assert OperatingNote.objects.count() == 1


def test_only_owners_write(world: World) -> None:
    for who, status in (("reviewer", 403), ("annotator", 403), ("outsider", 404),
                        ("site_admin", 404)):
        assert api_for(world.users[who]).post(_note(world), ANSWERS).status_code == status
    assert not OperatingNote.objects.exists()


def test_pages_show_the_note(labeled: World) -> None:
    owner = _signed_in("owner")
    assert "No operating note yet." in owner.get(f"/projects/{labeled.project.pk}").content.decode()
    done = owner.post(_note(labeled), {**ANSWERS, "based_on": "0"}, follow=True).content.decode()
    assert "Version 1 of the note is published." in done
    project_page = _signed_in("annotator").get(f"/projects/{labeled.project.pk}").content.decode()
    assert ANSWERS["processing_path"] in project_page
    editor = _signed_in("annotator").get(f"/tasks/{labeled.tasks[0].pk}").content.decode()
    assert "local models only" in editor  # in the editor's data, shown in its side panel
    assert "<textarea" not in _signed_in("annotator").get(_note(labeled)).content.decode()
