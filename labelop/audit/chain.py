"""The hash chain: canonical form of an event, and verification of the whole log.

hash = SHA-256(prev_hash || canonical JSON of the event). The canonical JSON has sorted
keys, no spaces and UTF-8 text (the RFC 8785 shape for the values we store: strings,
integers, null and the already-canonical `details` text). Verification streams the table
with a server-side cursor, so memory stays flat at any length.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]

from django.db import connection

GENESIS = "0" * 64
_string = encode_basestring  # JSON string literal, as json.dumps(ensure_ascii=False) writes it
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def canonical_details(details: dict | None) -> str:
    """The stored text of an event's details: canonical JSON of a dict."""
    if details is None:
        return "{}"
    if not isinstance(details, dict):
        raise TypeError("audit details must be a dict")
    return _dumps(details)


def canonical_time(value: datetime | str) -> str:
    """UTC ISO 8601 with microseconds, whichever type the database driver returns."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite's converter: naive, already UTC
        return value.isoformat(timespec="microseconds") + "+00:00"
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def _scalar(value: int | str | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return _string(value)


def canonical_event(
    *, seq: int, time: str, actor_id: int | None, actor: str, action: str,
    project_id: int | None, target: str, details: str, ip: str | None,
) -> str:
    """Canonical JSON of one event (keys sorted, no spaces); `details` is spliced in as
    stored, being canonical already. Written out by hand because verification runs this a
    million times: it equals json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=False), which tests/audit check."""
    return (f'{{"action":{_string(action)},"actor":{_string(actor)},'
            f'"actor_id":{_scalar(actor_id)},"details":{details},"ip":{_scalar(ip)},'
            f'"project":{_scalar(project_id)},"seq":{seq},"target":{_string(target)},'
            f'"time":{_string(time)}}}')


def event_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    head_seq: int | None
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok, "events": self.events, "head_seq": self.head_seq,
            "head_hash": self.head_hash, "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
        }


_VERIFY_SQL = (
    "SELECT seq, time, actor_id, actor_name, action, project_id, target, details, ip, "
    "prev_hash, hash FROM audit_auditevent WHERE seq <= %s ORDER BY seq"
)


def _rows(up_to: int, batch: int = 20_000) -> Iterator[tuple]:
    # chunked_cursor() is a named (server-side) cursor on PostgreSQL: rows arrive in batches.
    with connection.chunked_cursor() as cursor:
        cursor.execute(_VERIFY_SQL, [up_to])
        while rows := cursor.fetchmany(batch):
            yield from rows


def verify_chain() -> Verification:
    """Recompute every hash in order; name the first event that breaks the chain.

    The head is read first and the scan stops at it, so events appended while the scan
    runs are neither checked nor mistaken for a mismatch.
    """
    head_seq, head_hash = _head()
    expected_prev, count, last_seq = GENESIS, 0, None
    for row in _rows(head_seq):
        seq, time, actor_id, actor, action, project_id, target, details, ip, prev, stored = row
        count += 1
        if last_seq is not None and seq != last_seq + 1:
            return Verification(False, count, last_seq, expected_prev, seq,
                                f"event {last_seq + 1} is missing (found {seq} after {last_seq})")
        if prev != expected_prev:
            return Verification(False, count, last_seq, expected_prev, seq,
                                f"event {seq} does not link to the event before it")
        body = canonical_event(
            seq=seq, time=canonical_time(time), actor_id=actor_id, actor=actor, action=action,
            project_id=project_id, target=target, details=details, ip=ip,
        )
        if event_hash(prev, body) != stored:
            return Verification(False, count, last_seq, expected_prev, seq,
                                f"event {seq} was altered after it was written")
        expected_prev, last_seq = stored, seq
    if (head_seq, head_hash) != (last_seq or 0, expected_prev):
        return Verification(False, count, last_seq, expected_prev, (last_seq or 0) + 1,
                            f"the log ends at event {last_seq or 0} but the chain head is event "
                            f"{head_seq}: events are missing from the end")
    return Verification(True, count, last_seq, expected_prev)


def _head() -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_chainhead WHERE id = 1")
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)
