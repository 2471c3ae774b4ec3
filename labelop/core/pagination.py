"""Keyset (cursor) pagination: stable under inserts, O(page) at any depth."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet

from labelop.core.errors import DomainError

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidCursor(DomainError):
    status = 400
    code = "invalid_cursor"


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next: str | None


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": value}).encode()).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["k"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        raise InvalidCursor("The cursor is not one this server issued.") from None
    if not isinstance(value, int):
        raise InvalidCursor("The cursor is not one this server issued.")
    return value


def paginate(
    qs: QuerySet[M], *, cursor: str | None, limit: int = DEFAULT_LIMIT, key: str = "pk",
    descending: bool = False,
) -> Page[M]:
    """One page of `qs` ordered by the integer column `key`, after `cursor`."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        after = _decode(cursor)
        qs = qs.filter(**{f"{key}__lt" if descending else f"{key}__gt": after})
    rows = list(qs.order_by(f"-{key}" if descending else key)[: limit + 1])
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    return Page(rows, _encode(getattr(rows[-1], key)))
