"""Resilience benchmark: 30 kill -9 of the server and 30 of the worker, on SQLite and on
PostgreSQL, while people save, upload, snapshot, export and import (tests/resilience/chaos.py);
then the proof. Goal: 0 lost acknowledged writes, 0 broken chains, nothing half written."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import write_section  # noqa: E402
from tests.resilience import chaos  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/labelop_bench_chaos"


def _table(results: dict[str, dict]) -> str:
    rows = [
        ("kills: server / worker (of which while a job ran)", lambda p: (
            f"{p['server_kills']} / {p['worker_kills']} ({p['worker_kills_mid_job']})")),
        ("time under fire", lambda p: f"{p['seconds']} s"),
        ("requests answered / unanswered (server down)",
         lambda p: f"{p['requests']:,} / {p['unanswered']:,}"),
        ("acknowledged saves / lost", lambda p: f"{p['saves']:,} / **{p['lost_saves']}**"),
        ("acknowledged uploaded images / lost",
         lambda p: f"{p['uploads']:,} / **{p['lost_uploads']}**"),
        ("images whose object is missing", lambda p: f"**{p['missing_objects']}** of "
                                                     f"{p['assets']:,}"),
        ("jobs / cut short by a kill / run again", lambda p: (
            f"{p['jobs']} / {p['jobs_cut_short']} / {p['jobs_run_again']}")),
        ("jobs unfinished / failed without a reason / without a queue entry", lambda p: (
            f"**{p['jobs_unfinished']} / {p['jobs_failed_unexplained']} / "
            f"{p['jobs_without_queue_entry']}**")),
        ("jobs failed, each with its reason", lambda p: str(p["jobs_failed"])),
        ("exports complete / not downloadable / broken but downloadable", lambda p: (
            f"{p['exports']['complete']} / {p['exports']['refused']} / "
            f"**{p['exports']['bad']}**")),
        ("snapshots sealed / failed / left pending / not verifying", lambda p: (
            f"{p['snapshots']['sealed']} / {p['snapshots']['failed']} / "
            f"**{p['snapshots']['pending']} / {p['snapshots']['bad']}**")),
        ("objects a kill left unnamed, deleted by `labelop storage sweep`",
         lambda p: str(p["orphaned_objects"])),
        ("label imports applied / applied twice", lambda p: (
            f"{p['label_imports_applied']} / **{p['imports_applied_twice']}**")),
        ("audit chain", lambda p: f"{p['events']:,} events, "
                                  f"{'verifies' if p['chain_ok'] else '**BROKEN**'}"),
    ]
    names = list(results)
    lines = ["## Resilience (`bench/resilience.py`)", "",
             "One `labelop serve` (1 x 4 threads) and one `labelop worker`, each killed with "
             "SIGKILL (its whole process group) in turn and started again: the server after "
             "a random 0.3-2.5 s, the worker at a random 0-0.6 s after a job started running "
             "(until 30 of its kills found a job running). Meanwhile two annotators save "
             "with If-Match, an uploader sends 3 images a request, and the owner takes "
             "snapshots (a small project's written in the request, a large one's by the "
             "worker), asks for exports (COCO, YOLO, VOC, LabelOp; with or without the "
             "images) and imports COCO labels. Then a last worker drains the queue, the owner "
             "takes one more snapshot of each project, and a separate process sweeps the "
             "objects no row names and checks (tests/resilience/chaos.py). Bold: must be 0.",
             "",
             "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |")
    bad = {name: chaos.failures(p) for name, p in results.items()}
    lines += ["", "Every check holds." if not any(bad.values()) else
              f"**Failed:** {json.dumps(bad)}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch docs")
    args = parser.parse_args()
    size = {"small": 30, "large": 1500, "submitted": 1200}  # jobs of a few seconds
    results = {"SQLite": chaos.run(args.kills, **size),
               "PostgreSQL": chaos.run(args.kills, database_url=PG_URL, **size)}
    print(json.dumps(results, indent=1))
    if not args.no_write:
        write_section("resilience", _table(results))
    if any(chaos.failures(p) for p in results.values()):
        raise SystemExit("resilience: a check failed (see above)")


if __name__ == "__main__":
    main()
