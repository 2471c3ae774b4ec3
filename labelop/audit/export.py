"""Streaming serializations of audit events (JSON Lines and CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum

COLUMNS = ["seq", "time", "actor", "action", "project", "target", "details", "ip", "hash"]


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"

    @property
    def content_type(self) -> str:
        return "application/jsonl" if self is ExportFormat.JSONL else "text/csv; charset=utf-8"


def _csv_safe(value: object) -> object:
    # Spreadsheet apps execute cells starting with these: neutralize formula injection.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def serialize(events: Iterable[dict], fmt: ExportFormat) -> Iterator[str]:
    if fmt is ExportFormat.JSONL:
        for event in events:
            yield json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for event in events:
        event = {**event, "details": json.dumps(event["details"], sort_keys=True)}
        writer.writerow([_csv_safe(event[c]) for c in COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
