"""What several benchmarks share: a fresh PostgreSQL database, `labelop serve` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def fresh_instance(data_dir: str, database: str, pg_url: str) -> dict[str, str]:
    """The environment of a new instance in `data_dir`, on SQLite or on a fresh PostgreSQL
    database at `pg_url`; no LABELOP_ setting of the caller's leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
    env["LABELOP_DATA_DIR"] = data_dir
    if database == "postgresql":
        fresh_pg_database(pg_url)
        env["LABELOP_DATABASE_URL"] = pg_url
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(env: dict[str, str]) -> Iterator[int]:
    """`labelop serve` (2 workers x 8 threads, no job workers) until the block ends; its port."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "labelop", "serve", "--port", str(port), "--workers", "2",
         "--threads", "8", "--job-workers", "0"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
