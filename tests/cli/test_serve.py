"""`labelop serve` on a fresh data dir: secrets, first admin, a real server answering."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_from_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = _free_port()
    # The embedded default: no LABELOP_* settings at all (also in the PostgreSQL test pass).
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "labelop", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        deadline = time.monotonic() + 60
        while "Listening at" not in output and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            output += line
        health = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
        assert health.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)

    password = re.search(r"password: (\S+)", output)
    assert password, output
    secret = data_dir / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    with sqlite3.connect(data_dir / "labelop.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM accounts_user").fetchone()[0] == 1
    assert password.group(1) not in secret.read_text()
