from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class AuditEventOut(Schema):
    seq: int
    time: datetime
    actor: str | None
    action: str
    project: int | None
    target: str
    details: dict[str, Any]
    ip: str | None
    hash: str


class AuditPage(Schema):
    items: list[AuditEventOut]
    next: str | None


class VerificationOut(Schema):
    ok: bool
    events: int
    head_seq: int | None
    head_hash: str
    first_broken_seq: int | None
    reason: str | None
