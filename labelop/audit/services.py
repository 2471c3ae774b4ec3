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
    GENESIS,
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

# Any constant works; it names the chain head for pg_advisory_xact_lock.
_CHAIN_LOCK_KEY = 0x4C41424F50  # "LABOP"


def _lock_chain_head() -> None:
    """Serialize appends until this transaction ends, so the chain never forks.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback).
    SQLite: the connection runs BEGIN IMMEDIATE (settings), so the transaction already
    holds the database's single write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


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
    details_text = canonical_details(details)
    with transaction.atomic():
        _lock_chain_head()
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
        now = timezone.now()
        event = AuditEvent(
            seq=seq, time=now, actor=user, actor_name=user.get_username() if user else "",
            action=AuditAction(action).value, project=project, target=target[:255],
            details=details_text, ip=_normalized_ip(ip or client_ip.get()), prev_hash=prev_hash,
        )
        event.hash = event_hash(prev_hash, canonical_event(
            seq=seq, time=canonical_time(now), actor_id=event.actor_id, actor=event.actor_name,
            action=event.action, project_id=event.project_id, target=event.target,
            details=details_text, ip=event.ip,
        ))
        event.save(force_insert=True)
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
