from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from labelop.audit import selectors
from labelop.audit.actions import AuditAction
from labelop.audit.services import chain_verify
from labelop.core.errors import Invalid
from labelop.core.pages import PageView
from labelop.core.pagination import paginate
from labelop.permissions import Action, can


def _int_or_none(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid("The project filter must be a project number.") from None


def _date_or_none(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("The 'since' filter must be a date like 2026-12-01.") from None


class AuditLogView(PageView):
    def get(self, request: HttpRequest) -> HttpResponse:
        q = request.GET
        events = selectors.audit_events(
            actor=self.actor, project_id=_int_or_none(q.get("project")),
            actor_name=q.get("actor") or None, action=q.get("action") or None,
            since=_date_or_none(q.get("since")))
        page = paginate(events, cursor=q.get("cursor"), limit=100, key="seq", descending=True)
        filters = {k: q.get(k, "") for k in ("project", "actor", "action", "since")}
        return render(request, "audit/log.html", {
            "events": [selectors.audit_event_wire(e) for e in page.items], "next": page.next,
            "filters": filters, "actions": [a.value for a in AuditAction],
            "next_query": urlencode({k: v for k, v in filters.items() if v}),
            "export_query": urlencode({k: v for k, v in filters.items() if v and k != "since"}),
            "can_verify": can(self.actor, Action.AUDIT_VERIFY),
            "chain": chain_verify(actor=self.actor) if q.get("verify") else None,
        })
