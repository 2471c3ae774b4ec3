"""SQLite writers queue on a lock that wakes them at once (labelop/core/sqlite)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from labelop.audit.actions import AuditAction
from labelop.audit.models import AuditEvent
from labelop.audit.services import record

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own locking")


@pytest.mark.django_db(transaction=True)
def test_a_second_writer_waits_for_the_first_and_goes_right_after() -> None:
    first_in = threading.Event()
    times: dict[str, float] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                record(actor=None, action=AuditAction.PROJECT_UPDATED, target="first")
                first_in.set()
                time.sleep(0.3)
            times["first_committed"] = time.monotonic()
        except BaseException as exc:  # collected below
            errors.append(exc)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            first_in.wait()
            with transaction.atomic():
                times["second_began"] = time.monotonic()
                record(actor=None, action=AuditAction.PROJECT_UPDATED, target="second")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert times["second_began"] >= times["first_committed"] - 0.005
    assert times["second_began"] - times["first_committed"] < 1.0  # loose: CI is busy
    assert list(AuditEvent.objects.order_by("seq").values_list("target", flat=True)) == [
        "first", "second"]
    assert Path(f"{connection.settings_dict['NAME']}.writelock").exists()
