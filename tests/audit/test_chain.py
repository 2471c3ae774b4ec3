from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from labelop.audit.actions import AuditAction
from labelop.audit.chain import GENESIS, canonical_details, canonical_event, verify_chain
from labelop.audit.models import AuditEvent
from labelop.audit.services import record
from labelop.cli import main
from labelop.core import append_only
from tests.conftest import World


def _write(n: int, world: World | None = None) -> list[AuditEvent]:
    actor = world.actor("owner") if world else None
    project = world.project if world else None
    return [record(actor=actor, action=AuditAction.PROJECT_UPDATED, project=project,
                   target=f"project:{i}", details={"n": i, "text": "ünïcode ✓"})
            for i in range(n)]


def test_events_link_into_one_chain_from_genesis(world: World) -> None:
    events = _write(5, world)

    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    result = verify_chain()
    assert (result.ok, result.events, result.head_seq, result.head_hash) == (
        True, 5, 5, events[-1].hash)


def test_event_fields_round_trip_through_the_database(world: World) -> None:
    event = _write(1, world)[0]
    stored = AuditEvent.objects.get(seq=event.seq)

    assert stored.actor_name == "owner"
    assert stored.project_id == world.project.pk
    assert json.loads(stored.details) == {"n": 0, "text": "ünïcode ✓"}


@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET target = 'forged' WHERE seq = 1",
    "DELETE FROM audit_auditevent WHERE seq = 1",
])
def test_trigger_refuses_update_and_delete(world: World, statement: str) -> None:
    _write(2, world)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement)

    assert AuditEvent.objects.get(seq=1).target == "project:0"
    assert AuditEvent.objects.count() == 2


def test_orm_update_and_delete_are_refused_too(world: World) -> None:
    event = _write(1, world)[0]

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=event.seq).update(action="auth.logged_in")
    with pytest.raises(DatabaseError), transaction.atomic():
        event.delete()

    assert AuditEvent.objects.get(seq=event.seq).action == "project.updated"


def test_emptying_the_table_is_refused(world: World) -> None:
    """TRUNCATE on PostgreSQL; on SQLite an unqualified DELETE (its truncate optimization
    is disabled by the trigger)."""
    _write(1, world)
    statement = ("TRUNCATE audit_auditevent CASCADE" if connection.vendor == "postgresql"
                 else "DELETE FROM audit_auditevent")
    if connection.vendor == "postgresql":  # run the test transaction's deferred FK checks now
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.count() == 1


def _tamper(sql: str, params: list) -> None:
    """What an attacker with database access does: drop the trigger, rewrite, restore."""
    append_only.uninstall(connection, "audit_auditevent")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    append_only.install(connection, "audit_auditevent")


@pytest.mark.parametrize(("sql", "params", "broken", "reason"), [
    ("UPDATE audit_auditevent SET details = %s WHERE seq = 3", ['{"n":99,"text":"x"}'], 3,
     "altered"),
    ("UPDATE audit_auditevent SET actor_name = %s WHERE seq = 4", ["someone"], 4, "altered"),
    ("UPDATE audit_auditevent SET target = %s WHERE seq = 2", ["project:x"], 2, "altered"),
    ("DELETE FROM audit_auditevent WHERE seq = 3", [], 4, "missing"),
])
def test_verify_names_the_first_altered_event(world: World, sql: str, params: list,
                                              broken: int, reason: str) -> None:
    _write(6, world)

    _tamper(sql, params)
    result = verify_chain()

    assert result.ok is False
    assert result.first_broken_seq == broken
    assert reason in (result.reason or "")


def test_verify_detects_rehashed_event_by_the_next_link(world: World) -> None:
    """Rewriting an event AND its hash still breaks the link from the next event."""
    events = _write(4, world)
    _tamper("UPDATE audit_auditevent SET hash = %s WHERE seq = 2", ["f" * 64])

    result = verify_chain()

    assert (result.ok, result.first_broken_seq) == (False, 2)
    assert events[2].prev_hash == events[1].hash


def test_cli_audit_verify_exits_nonzero_and_names_the_event(world: World) -> None:
    _write(3, world)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 3 events" in ok.output

    _tamper("UPDATE audit_auditevent SET target = %s WHERE seq = 2", ["forged"])
    broken = runner.invoke(main, ["audit", "verify"])

    assert broken.exit_code == 1
    assert "BROKEN at event #2" in broken.output


def test_record_inside_a_failed_transaction_leaves_no_event(world: World) -> None:
    def failing_change() -> None:
        with transaction.atomic():
            _write(1, world)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()

    assert AuditEvent.objects.count() == 0
    assert verify_chain().ok


def test_verify_detects_events_cut_off_the_end(world: World) -> None:
    _write(4, world)

    _tamper("DELETE FROM audit_auditevent WHERE seq >= 3", [])
    result = verify_chain()

    assert (result.ok, result.first_broken_seq) == (False, 3)
    assert "missing from the end" in (result.reason or "")


_text = st.text(max_size=40)


@given(seq=st.integers(1, 2**62), actor_id=st.none() | st.integers(1, 2**31), actor=_text,
       action=_text, project_id=st.none() | st.integers(1, 2**31), target=_text,
       details=st.dictionaries(_text, st.none() | st.booleans() | st.integers() | _text,
                               max_size=4),
       ip=st.none() | st.sampled_from(["127.0.0.1", "::1", "10.1.2.3"]))
def test_canonical_event_is_sorted_compact_json(seq, actor_id, actor, action, project_id,
                                                target, details, ip) -> None:
    time = "2026-12-01T07:00:00.000001+00:00"
    text = canonical_event(seq=seq, time=time, actor_id=actor_id, actor=actor, action=action,
                           project_id=project_id, target=target,
                           details=canonical_details(details), ip=ip)
    expected = {"action": action, "actor": actor, "actor_id": actor_id, "details": details,
                "ip": ip, "project": project_id, "seq": seq, "target": target, "time": time}
    assert text == json.dumps(expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_an_append_during_verification_is_not_a_break(world: World, monkeypatch) -> None:
    from labelop.audit import chain

    _write(2, world)
    read_head = chain._head

    def head_then_someone_appends() -> tuple[int, str]:
        head = read_head()
        _write(1, world)
        return head

    monkeypatch.setattr(chain, "_head", head_then_someone_appends)
    result = verify_chain()

    assert (result.ok, result.events) == (True, 2)
