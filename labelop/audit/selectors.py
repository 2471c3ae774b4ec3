"""Reads of the audit log, scoped: owners see their projects' events, site admins the
instance's own events (those with no project)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

from django.db.models import QuerySet

from labelop.audit.models import AuditEvent
from labelop.core.errors import Invalid, NotFound
from labelop.permissions import Action, Actor, can, require, scope


def audit_events(*, actor: Actor, project_id: int | None = None, actor_name: str | None = None,
                 action: str | None = None, since: datetime | None = None
                 ) -> QuerySet[AuditEvent]:
    """Events the actor may read, filtered."""
    from labelop.projects.models import Project

    for value in (actor_name, action):
        if value and not value.isprintable():
            raise Invalid("Filters are plain text without control characters.",
                          code="invalid_filter")
    if since is not None:
        try:
            since = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
        except (OverflowError, ValueError):
            raise Invalid("'since' is outside the range of dates this server handles.",
                          code="invalid_filter") from None
    if project_id is not None and not 1 <= project_id < 2**63:
        raise NotFound("Not found.")
    events = AuditEvent.objects.all()
    if project_id is not None:
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise NotFound("Not found.")
        require(actor, Action.PROJECT_AUDIT_READ, project)
        events = events.filter(project_id=project_id)
    else:
        visible = scope(actor, Action.PROJECT_AUDIT_READ, events)
        if can(actor, Action.INSTANCE_AUDIT_READ):
            visible = visible | events.filter(project__isnull=True)
        events = visible
    if actor_name:
        events = events.filter(actor_name=actor_name)
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(time__gte=since)
    return events


_WIRE_FIELDS = ("seq", "time", "actor_name", "action", "project_id", "target", "details", "ip",
                "hash")


def _wire(row: tuple) -> dict:
    seq, time, actor, action, project, target, details, ip, digest = row
    return {"seq": seq, "time": time.isoformat(), "actor": actor or None, "action": action,
            "project": project, "target": target, "details": json.loads(details), "ip": ip,
            "hash": digest}


def audit_event_wire(event: AuditEvent) -> dict:
    """One event in the wire format of DESIGN.md."""
    return _wire(tuple(getattr(event, f) for f in _WIRE_FIELDS))


def audit_event_stream(events: QuerySet[AuditEvent]) -> Iterator[dict]:
    """Events in wire format and chain order, fetched in batches (flat memory)."""
    rows = events.order_by("seq").values_list(*_WIRE_FIELDS).iterator(chunk_size=2000)
    return map(_wire, rows)
