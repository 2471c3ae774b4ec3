"""The client address of the request being served, for audit events (framework plumbing)."""

from __future__ import annotations

from contextvars import ContextVar

client_ip: ContextVar[str | None] = ContextVar("labelop_client_ip", default=None)
