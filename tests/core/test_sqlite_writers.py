"""SQLite writers queue on a lock that wakes them at once (labelop/core/sqlite).

The backend is exercised on a database file of its own, so the test runs whatever database
the suite itself uses."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from labelop.core.sqlite.base import DatabaseWrapper


def _connection(path: Path) -> DatabaseWrapper:
    return DatabaseWrapper({
        "ENGINE": "labelop.core.sqlite", "NAME": str(path), "USER": "", "PASSWORD": "",
        "HOST": "", "PORT": "", "ATOMIC_REQUESTS": False, "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "TIME_ZONE": None, "TEST": {},
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                    "init_command": "PRAGMA journal_mode=WAL;"},
    }, alias=f"writers-{threading.get_ident()}")


def _write(path: Path, label: str, times: dict[str, float], hold: float = 0.0,
           began: threading.Event | None = None) -> None:
    db = _connection(path)
    try:
        db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        times[f"{label}_began"] = time.monotonic()
        if began is not None:
            began.set()
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO log (who) VALUES (%s)", [label])
        time.sleep(hold)
        db.commit()
        times[f"{label}_committed"] = time.monotonic()
        db.set_autocommit(True)
    finally:
        db.close()


def test_a_second_writer_waits_for_the_first_and_goes_right_after(
        tmp_path: Path, django_db_blocker) -> None:
    # A database of this test's own, not the suite's: pytest-django only needs to allow it.
    with django_db_blocker.unblock():
        _race(tmp_path / "writers.sqlite3")


def _race(path: Path) -> None:
    setup = _connection(path)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)")
    setup.close()
    times: dict[str, float] = {}
    first_in = threading.Event()
    errors: list[BaseException] = []

    def run(fn, *args) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # collected below; a thread must not swallow it
            errors.append(exc)

    first = threading.Thread(target=run, args=(_write, path, "first", times, 0.3, first_in))
    second = threading.Thread(target=run, args=(
        lambda: (first_in.wait(), _write(path, "second", times)),))
    first.start()
    second.start()
    first.join()
    second.join()

    assert errors == []
    assert times["second_began"] >= times["first_committed"] - 0.005  # it queued
    assert times["second_began"] - times["first_committed"] < 1.0  # loose: CI is busy
    check = _connection(path)
    with check.cursor() as cursor:
        cursor.execute("SELECT who FROM log ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == ["first", "second"]
    check.close()
    assert Path(f"{path}.writelock").exists()
