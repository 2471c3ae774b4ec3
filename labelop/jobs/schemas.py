from __future__ import annotations

from typing import Any

from ninja import Schema


class JobOut(Schema):
    id: int
    kind: str
    status: str
    progress: float
    done: int
    total: int | None
    result: dict[str, Any]
    error: dict[str, Any] | None
