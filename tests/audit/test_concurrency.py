"""Concurrent appends never fork the chain (several app servers write at once)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from labelop.audit.actions import AuditAction
from labelop.audit.chain import verify_chain
from labelop.audit.models import AuditEvent
from labelop.audit.services import record

WRITERS = 8
EACH = 40


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_leave_one_unbroken_chain() -> None:
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                record(actor=None, action=AuditAction.PROJECT_UPDATED, target=f"w{n}:{i}")
        except BaseException as exc:  # reported below; a thread must not swallow it
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EACH + 1))
    result = verify_chain()
    assert (result.ok, result.events) == (True, WRITERS * EACH), result.reason
    # Each writer's own events keep their order inside the one chain.
    for n in range(WRITERS):
        mine = list(AuditEvent.objects.filter(target__startswith=f"w{n}:")
                    .order_by("seq").values_list("target", flat=True))
        assert mine == [f"w{n}:{i}" for i in range(EACH)]
    assert connection.vendor in {"sqlite", "postgresql"}
