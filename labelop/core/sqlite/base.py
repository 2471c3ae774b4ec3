"""SQLite whose writers queue instead of polling.

SQLite allows one writer. A second one waits in SQLite's busy handler, which *sleeps* (1, 2,
5, 10 ... 100 ms) and retries: under 16 concurrent requests that each append an audit event,
most of the time goes to those sleeps (p99 of 0.6 s for a 12 KB image, throughput falling as
readers are added). Here a write transaction first takes a lock that wakes its next waiter
the moment it is released: a thread lock inside the process, then an flock on a file beside
the database across processes (gunicorn workers, job workers, the CLI). SQLite's own lock
is then almost always free when BEGIN IMMEDIATE runs; the busy timeout stays as the last
resort.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time

from django.db.backends.sqlite3 import base

logger = logging.getLogger(__name__)

# One lock per process and database file; threads queue on the first, processes on the second.
_locks: dict[str, tuple[threading.Lock, int | None]] = {}
_locks_guard = threading.Lock()
WAIT_SECONDS = 20  # as long as SQLite's busy timeout; then fall through to it


def _lock_for(name: str) -> tuple[threading.Lock, int | None]:
    with _locks_guard:
        key = f"{os.getpid()}:{name}"  # a forked child opens its own file description
        if key not in _locks:
            _locks[key] = (threading.Lock(), _lock_file(name))
        return _locks[key]


def _lock_file(name: str) -> int | None:
    """The lock file's descriptor, or None (memory databases; a file we may not open, say
    one created by root: then SQLite's own locking alone serves, as before)."""
    if not name or name.startswith(":memory:") or "mode=memory" in name:
        return None
    try:
        return os.open(f"{name}.writelock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        logger.warning("no writer queue for %s (%s); SQLite's busy timeout applies", name, exc)
        return None


def _forget_locks_in_child() -> None:
    # A forked child must not use (or release) its parent's locks.
    global _locks_guard
    _locks_guard = threading.Lock()
    _locks.clear()


os.register_at_fork(after_in_child=_forget_locks_in_child)


def _flock(fd: int, deadline: float) -> bool:
    """Take the file lock by the deadline. flock cannot time out, so poll it, finely: only
    one thread per process ever waits here (the others wait on the thread lock)."""
    pause = 0.0002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.002)


class DatabaseWrapper(base.DatabaseWrapper):
    _write_lock: tuple[threading.Lock, int | None] | None = None
    _write_lock_pid = 0

    def _start_transaction_under_autocommit(self) -> None:
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._give_write_lock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._give_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._give_write_lock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._give_write_lock()

    def _take_write_lock(self) -> None:
        if self._write_lock is not None and self._write_lock_pid != os.getpid():
            self._write_lock = None  # inherited through fork: the parent's, not ours
        lock, fd = _lock_for(str(self.settings_dict["NAME"]))
        deadline = time.monotonic() + WAIT_SECONDS  # one wait in all, as SQLite's timeout
        if not lock.acquire(timeout=WAIT_SECONDS):
            return  # something holds it for long (a test's transaction): let SQLite decide
        if fd is not None and not _flock(fd, deadline):
            lock.release()
            return
        self._write_lock, self._write_lock_pid = (lock, fd), os.getpid()

    def _give_write_lock(self) -> None:
        held, self._write_lock = self._write_lock, None
        if held is None or self._write_lock_pid != os.getpid():
            return
        lock, fd = held
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        lock.release()


__all__ = ["DatabaseWrapper"]
