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


def _appends(n: int, writers: int) -> float:
    """Events/s through audit.record(), one transaction per event, `writers` threads."""
    from django.db import connections

    from labelop.audit.actions import AuditAction
    from labelop.audit.services import record

    per_writer = n // writers
    barrier = threading.Barrier(writers + 1)

    def work(w: int) -> None:
        barrier.wait()
        for i in range(per_writer):
            record(actor=None, action=AuditAction.PROJECT_UPDATED, target=f"bench:{w}:{i}",
                   details={"i": i, "writer": w})
        connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return per_writer * writers / (time.perf_counter() - start)


def _fill(total: int) -> None:
    """Extend the chain to `total` events quickly (bulk insert; same hashing as record())."""
    from django.db import transaction
    from django.utils import timezone

    from labelop.audit.chain import canonical_details, canonical_event, canonical_time
    from labelop.audit.chain import event_hash
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
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    result["appends"]["8 writers"] = _appends(appends, 8)
    for size in sizes:
        _fill(size)
        start = time.perf_counter()
        outcome = verify_chain()
        seconds = time.perf_counter() - start
        assert outcome.ok and outcome.events == size, outcome
        cli_s, cli_rss, out = _verify_cli(dict(os.environ))
        assert out.startswith("OK"), out
        result["verify"].append({"events": size, "seconds": seconds, "events_per_s": size / seconds,
                                 "cli_seconds": cli_s, "cli_peak_rss_mib": cli_rss})
    return result


# ---------------------------------------------------------------- parent: both databases

def _run_child(env: dict, args: argparse.Namespace) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--sizes", args.sizes, "--appends",
         str(args.appends)], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fresh_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _table(results: list[dict]) -> str:
    lines = [
        "## Audit log (`bench/audit.py`)",
        "",
        f"Goals: verify 1M events in under {GOAL_VERIFY_1M_S:.0f} s; "
        f"≥ {GOAL_APPENDS_PER_S:,} appends/s on one core.",
        "Appends go through `audit.record()` (the service API: chain lock, head read, "
        "hash, insert), one transaction and commit per event. The single writer is pinned "
        "to one CPU; 8 writers are threads of one process sharing the chain lock.",
        "",
        "| database | appends/s, 1 writer | appends/s, 8 writers |",
        "|---|---:|---:|",
    ]
    for r in results:
        a = r["appends"]
        lines.append(f"| {r['vendor']} | {a['1 writer']:,.0f} | {a['8 writers']:,.0f} |")
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
            _fresh_pg_database(PG_URL)
            results.append(_run_child({**base, "LABELOP_DATA_DIR": data_dir,
                                       "LABELOP_DATABASE_URL": PG_URL}, args))
            print(json.dumps(results[-1], indent=1))
    write_section("audit", _table(results))
    print(f"written to {Path('docs/benchmarks.md')}")


if __name__ == "__main__":
    main()
