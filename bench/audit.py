"""Audit log benchmark: append throughput through record(), and verify time at 100k / 1M.

Runs once per database (SQLite in a temporary data dir; PostgreSQL in a scratch database
that is dropped and recreated) in a child process each, and writes docs/benchmarks.md.

    python bench/audit.py [--sizes 100000,1000000] [--appends 5000]
    LABELOP_BENCH_DATABASE_URL=postgresql://... (default: local PostgreSQL, db labelop_bench)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import fresh_pg_database  # noqa: E402

PG_URL = os.environ.get("LABELOP_BENCH_DATABASE_URL",
                        "postgresql://postgres@127.0.0.1:5432/labelop_bench")
GOAL_VERIFY_1M_S = 10.0
GOAL_APPENDS_PER_S = 2000


# ---------------------------------------------------------------- child: one database

def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelop.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _appends(n: int, writers: int, per_transaction: int = 1) -> dict:
    """Events/s through audit.record() from `writers` threads, `per_transaction` events in
    each transaction (1: a request that audits one change; 10: a bulk operation)."""
    from django.db import connections, transaction

    from labelop.audit.actions import AuditAction
    from labelop.audit.services import record

    per_writer = n // writers
    barrier = threading.Barrier(writers + 1)

    def work(w: int) -> None:
        barrier.wait()
        for start in range(0, per_writer, per_transaction):
            with transaction.atomic():
                for i in range(start, min(start + per_transaction, per_writer)):
                    record(actor=None, action=AuditAction.PROJECT_UPDATED,
                           target=f"bench:{w}:{i}", details={"i": i, "writer": w})
        connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    events = per_writer * writers
    return {"per_s": events / (time.perf_counter() - start),
            "per_cpu_s": events / (time.process_time() - cpu)}


def _commit_floor(n: int) -> float:
    """PostgreSQL only: the same two statements per event sent straight through psycopg,
    one transaction each, no Django and no hashing: what the disk's commit latency allows."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params = {k: v for k, v in params.items() if k != "cursor_factory"}
    # autocommit: each `conn.transaction()` below is then a real BEGIN ... COMMIT.
    with psycopg.connect(**params, autocommit=True) as conn:
        head = conn.execute("SELECT seq FROM audit_chainhead WHERE id = 1").fetchone()[0]
        start = time.perf_counter()
        for seq in range(head + 1, head + 1 + n):
            with conn.transaction():
                conn.execute("SELECT seq, hash FROM audit_chainhead WHERE id = 1 FOR UPDATE")
                conn.execute(
                    "WITH e AS (INSERT INTO audit_auditevent (seq, time, actor_name, action, "
                    "target, details, prev_hash, hash) VALUES (%s, now(), '', 'x', 't', '{}', "
                    "'p', 'h')) UPDATE audit_chainhead SET seq = %s, hash = 'h' WHERE id = 1",
                    [seq, seq])
        return n / (time.perf_counter() - start)


def _fill(total: int) -> None:
    """Extend the chain to `total` events quickly (bulk insert; same hashing as record())."""
    from django.db import transaction
    from django.utils import timezone

    from labelop.audit.chain import canonical_details, canonical_event, canonical_time, event_hash
    from labelop.audit.models import AuditEvent, ChainHead

    head = ChainHead.objects.get(id=1)
    seq, prev = head.seq, head.hash
    batch: list[AuditEvent] = []
    while seq < total:
        seq += 1
        now = timezone.now()
        details = canonical_details({"i": seq, "note": "bulk"})
        target = f"project:{seq % 97}"
        digest = event_hash(prev, canonical_event(
            seq=seq, time=canonical_time(now), actor_id=None, actor="", action="project.updated",
            project_id=None, target=target, details=details, ip="127.0.0.1"))
        batch.append(AuditEvent(seq=seq, time=now, actor_name="", action="project.updated",
                                target=target, details=details, ip="127.0.0.1", prev_hash=prev,
                                hash=digest))
        prev = digest
        if len(batch) == 20_000 or seq == total:
            with transaction.atomic():
                AuditEvent.objects.bulk_create(batch)
                ChainHead.objects.filter(id=1).update(seq=seq, hash=prev)
            batch = []


def _reset_chain() -> None:
    from django.db import connection

    from labelop.audit.chain import GENESIS
    from labelop.core import append_only

    append_only.uninstall(connection, "audit_auditevent")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
        cursor.execute("UPDATE audit_chainhead SET seq = 0, hash = %s", [GENESIS])
    append_only.install(connection, "audit_auditevent")


def _verify_cli(env: dict) -> tuple[float, float, str]:
    """Wall time and peak RSS (MiB) of `labelop audit verify` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "labelop", "audit", "verify"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out.strip()


def child(sizes: list[int], appends: int) -> dict:
    _setup()
    from django.db import connection

    from labelop.audit.chain import verify_chain

    result: dict = {"vendor": connection.vendor, "appends": {}, "verify": []}
    os.sched_setaffinity(0, {0})  # appends "on one core": this process on one CPU
    result["appends"]["1 writer"] = _appends(appends, 1)
    result["appends"]["1 writer, 10 per txn"] = _appends(appends, 1, per_transaction=10)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    result["appends"]["8 writers"] = _appends(appends, 8)
    if connection.vendor == "postgresql":
        result["commit_floor"] = _commit_floor(appends)
        _reset_chain()  # the floor's rows are not a chain
    for size in sizes:
        _fill(size)
        start = time.perf_counter()
        outcome = verify_chain()
        seconds = time.perf_counter() - start
        assert outcome.ok, outcome
        assert outcome.events >= size, outcome
        cli_s, cli_rss, out = _verify_cli(dict(os.environ))
        assert out.startswith("OK"), out
        result["verify"].append({
            "events": outcome.events, "seconds": seconds,
            "events_per_s": outcome.events / seconds, "cli_seconds": cli_s,
            "cli_peak_rss_mib": cli_rss})
    return result


# ---------------------------------------------------------------- parent: both databases

def _run_child(env: dict, args: argparse.Namespace) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--sizes", args.sizes, "--appends",
         str(args.appends)], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(results: list[dict]) -> str:
    lines = [
        "## Audit log (`bench/audit.py`)",
        "",
        f"Goals: verify 1M events in under {GOAL_VERIFY_1M_S:.0f} s; "
        f"≥ {GOAL_APPENDS_PER_S:,} appends/s on one core.",
        "Appends (events/s) go through `audit.record()`, the service API: lock and read the "
        "chain head, hash, insert, move the head. Unless noted, each event is its own "
        "transaction with its own commit. The single writer is pinned to one CPU; 8 writers "
        "are threads of one process sharing the chain lock. The commit floor sends the same "
        "statements through psycopg alone: the rate this machine's disk allows when every "
        "event waits for its own durable commit.",
        "",
        "The second figure of each cell is events per CPU-second of the writing process "
        "(client-side cost: Django, hashing, the driver); the first is wall-clock.",
        "",
        "| database | 1 writer | 1 writer, 10 events per transaction | 8 writers | "
        "commit floor (same SQL, psycopg only) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        a = {k: f"{v['per_s']:,.0f} /s ({v['per_cpu_s']:,.0f} /CPU-s)"
             for k, v in r["appends"].items()}
        floor = f"{r['commit_floor']:,.0f} /s" if "commit_floor" in r else "—"
        lines.append(f"| {r['vendor']} | {a['1 writer']} | {a['1 writer, 10 per txn']} | "
                     f"{a['8 writers']} | {floor} |")
    lines += ["", "| database | events | verify (in process) | events/s | `labelop audit verify` "
              "wall time | its peak RSS |", "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for v in r["verify"]:
            lines.append(f"| {r['vendor']} | {v['events']:,} | {v['seconds']:.2f} s | "
                         f"{v['events_per_s']:,.0f} | {v['cli_seconds']:.2f} s | "
                         f"{v['cli_peak_rss_mib']:.0f} MiB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(child(sizes, args.appends)))
        return

    from bench._report import write_section

    results = []
    with tempfile.TemporaryDirectory() as data_dir:
        base = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
        results.append(_run_child({**base, "LABELOP_DATA_DIR": data_dir}, args))
        print(json.dumps(results[-1], indent=1))
        if not args.no_postgres:
            fresh_pg_database(PG_URL)
            results.append(_run_child({**base, "LABELOP_DATA_DIR": data_dir,
                                       "LABELOP_DATABASE_URL": PG_URL}, args))
            print(json.dumps(results[-1], indent=1))
    write_section("audit", _table(results))
    print(f"written to {Path('docs/benchmarks.md')}")


if __name__ == "__main__":
    main()
