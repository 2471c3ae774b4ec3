"""record(): the one way to write an audit event."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from labelop.audit.actions import AuditAction
from labelop.audit.chain import (
    Verification,
    canonical_details,
    canonical_event,
    canonical_time,
    event_hash,
    verify_chain,
)
from labelop.audit.context import client_ip
from labelop.audit.export import ExportFormat, serialize
from labelop.audit.models import AuditEvent
from labelop.audit.selectors import audit_event_stream, audit_events
from labelop.permissions import Action, Actor, require

if TYPE_CHECKING:
    from labelop.accounts.models import User
    from labelop.projects.models import Project

_INSERT = (
    "INSERT INTO audit_auditevent (seq, time, actor_id, actor_name, action, project_id, target, "
    "details, ip, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_HEAD = "SELECT seq, hash FROM audit_chainhead WHERE id = 1"
_HEAD_FOR_UPDATE = f"{_HEAD} FOR UPDATE"
_MOVE_HEAD = "UPDATE audit_chainhead SET seq = %s, hash = %s WHERE id = 1"


def _append(event: AuditEvent) -> None:
    """Take the chain head, link `event` to it, insert it and move the head: the fewest
    round trips that keep the chain serialized (appends are on every audited request).

    PostgreSQL: SELECT ... FOR UPDATE waits for the head row and then reads its newest
    committed value, so concurrent writers queue instead of forking the chain; the insert
    and the head move travel as one statement. SQLite: the connection runs BEGIN IMMEDIATE
    (settings), so the transaction already holds the database's only write lock.

    The head is held until commit, when PostgreSQL checks the deferred foreign keys of the
    transaction's rows (KEY SHARE on each row they name). Rows are therefore locked FOR NO
    KEY UPDATE everywhere (select_for_update(no_key=True)): a FOR UPDATE on a project or task
    that then waited for the head deadlocked with such a commit (bench/load.py found it).
    """
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_FOR_UPDATE if postgres else _HEAD)
        head_seq, event.prev_hash = cursor.fetchone()
        event.seq, event.time = head_seq + 1, timezone.now()  # under the lock: times ascend
        event.hash = event_hash(event.prev_hash, canonical_event(
            seq=event.seq, time=canonical_time(event.time), actor_id=event.actor_id,
            actor=event.actor_name, action=event.action, project_id=event.project_id,
            target=event.target, details=event.details, ip=event.ip,
        ))
        row = [event.seq, connection.ops.adapt_datetimefield_value(event.time), event.actor_id,
               event.actor_name, event.action, event.project_id, event.target, event.details,
               event.ip, event.prev_hash, event.hash]
        if postgres:
            cursor.execute(f"WITH e AS ({_INSERT}) {_MOVE_HEAD}", [*row, event.seq, event.hash])
        else:
            cursor.execute(_INSERT, row)
            cursor.execute(_MOVE_HEAD, [event.seq, event.hash])


def _normalized_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def record(
    *,
    actor: Actor | User | None,
    action: AuditAction,
    project: Project | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (or a new one)."""
    user = actor.user if isinstance(actor, Actor) else actor
    event = AuditEvent(
        actor=user, actor_name=user.get_username() if user else "",
        action=AuditAction(action).value, project=project, target=target[:255],
        details=canonical_details(details), ip=_normalized_ip(ip or client_ip.get()),
    )
    # No savepoint inside the caller's transaction (two round trips fewer on every audited
    # request): an append that fails fails the whole transaction, the change with it.
    with transaction.atomic(savepoint=False):
        _append(event)
    return event


def chain_verify(*, actor: Actor | None) -> Verification:
    """Verify the whole chain (site admins and project owners; the CLI passes no actor)."""
    if actor is not None:
        require(actor, Action.AUDIT_VERIFY)
    return verify_chain()


def events_export(*, actor: Actor, fmt: ExportFormat, project_id: int | None = None,
                  actor_name: str | None = None, action: str | None = None,
                  since: datetime | None = None) -> Iterator[str]:
    """Record the export, then stream the events the actor may read."""
    events = audit_events(actor=actor, project_id=project_id, actor_name=actor_name,
                          action=action, since=since)
    from labelop.projects.models import Project

    project = Project.objects.get(pk=project_id) if project_id is not None else None
    record(actor=actor, action=AuditAction.AUDIT_EXPORTED, project=project,
           details={"format": fmt.value, "actor": actor_name, "action": action,
                    "since": since.isoformat() if since else None})
    return serialize(audit_event_stream(events), fmt)
