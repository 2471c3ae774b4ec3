"""Locks that die with their holder: how one process tells that another stopped (kill -9, a
lost machine) without guessing from time.

PostgreSQL: a transaction-level advisory lock taken in a transaction left open on a
connection of the holder's own; the server drops it when that connection goes, from
whichever machine (moments after a kill: the server notices the closed socket).
Transaction-level, so that it works through a pooler in transaction mode too; the open
transaction runs no statement, so it holds back no VACUUM. SQLite (one machine by
definition): an flock on a file beside the database, which the kernel drops with the
process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import weakref
from pathlib import Path
from typing import Any

from django.db import connection

# Every lock this process holds; a forked child (the import's decoding pool) lets go of its
# copies without releasing them, or a parent that died would look alive while they live.
_held: weakref.WeakSet[Held] = weakref.WeakSet()
_kept_in_child: list[Any] = []


class Held:
    """A lock named `name`, taken without waiting: `acquired` says whether it was."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._conn: Any = None
        self._fd: int | None = None
        _held.add(self)
        try:
            self.acquired = self._take()
        except BaseException:
            self.release()
            raise

    def _take(self) -> bool:
        if connection.vendor == "postgresql":
            import psycopg

            self._conn = psycopg.connect(**connection.get_connection_params())
            # The transaction is the lock's life: no timeout may end it; a client machine
            # that vanished is noticed within a minute, not after the system's two hours.
            for setting in ("idle_in_transaction_session_timeout = 0",
                            "tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5",
                            "tcp_keepalives_count = 6"):
                self._conn.execute(f"SET LOCAL {setting}")
            taken = self._conn.execute("SELECT pg_try_advisory_xact_lock(%s)",
                                       [_key(self.name)]).fetchone()[0]
            if not taken:
                self.release()
            return bool(taken)
        self._fd = os.open(_lock_path(self.name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return False
        return True

    def intact(self) -> bool:
        """Whether the lock is still held: on PostgreSQL, whether its connection lives."""
        if self._conn is None:
            return self._fd is not None
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            # Ends the transaction, and the lock with it, before returning: a bare close
            # leaves the server to notice later, and the next taker could find it held.
            with contextlib.suppress(Exception):  # a connection already broken holds nothing
                self._conn.rollback()
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _forget(self) -> None:
        """In a forked child: close this process's copies, leaving the parent's lock be."""
        if self._conn is not None:
            # Its socket closed here, its object kept: freeing it would have libpq say
            # goodbye to the server on a descriptor number that may be reused meanwhile.
            _kept_in_child.append(self._conn)
            with contextlib.suppress(OSError):
                os.close(self._conn.pgconn.socket)
            self._conn = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _forget_in_child() -> None:
    for held in list(_held):
        held._forget()


os.register_at_fork(after_in_child=_forget_in_child)


def alive(name: str) -> bool:
    """Whether a live process holds the lock `name`."""
    probe = Held(name)
    probe.release()
    return not probe.acquired


def _key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


def _lock_path(name: str) -> Path:
    folder = Path(f"{connection.settings_dict['NAME']}.locks")
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
