"""Snapshots, diffs, exports and label imports at 10k, 50k and 100k tasks x 5 shapes.

For each size, a fresh instance is filled (assets, accepted tasks with 5 boxes each, a
revision per task: bulk inserts, not the measured path), then each operation runs in a
process of its own, as a job worker or `labelop` would run it, reporting its wall time and
its peak RSS (ru_maxrss, the whole process: Python, Django and the work):
snapshot, a second snapshot after 10% of the tasks changed, the diff between them, the
COCO, YOLO and LabelOp JSON exports of the second (annotations only), and the COCO label
import of the export into a fresh project holding the same images, three times (each into a
project of its own): the median, and the fastest and slowest in brackets, because the
host's speed moves by a third from minute to minute; its RSS is the highest of the three.

Goals: COCO export of 50k tasks / 250k boxes < 5 s and of 100k < 10 s; export peak RSS at
100k no higher than at 10k + 50 MB, and under 150 MB; import of 50k tasks' labels (COCO)
< 5 s; diff of two 100k-task snapshots < 5 s. For scale: Label Studio 1.23 on this machine
exports the 50k-task COCO in 68 s with 1,230 MB peak RSS and imports 50k pre-labelled tasks
in 55 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import write_section  # noqa: E402
from bench._server import fresh_instance  # noqa: E402

IMPORTS = 3  # label imports per size, each into a fresh project
PG_URL = "postgresql://postgres@127.0.0.1:5432/labelop_bench_snapshots"

PRELUDE = """
import json, os, resource, sys, time
os.environ["DJANGO_SETTINGS_MODULE"] = "labelop.config.settings"
os.environ["LABELOP_SNAPSHOT_INLINE_TASKS"] = "100000000"
import django
django.setup()
def done(**figures):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({**figures, "rss_mb": round(peak, 1)}))
"""

FILL = PRELUDE + """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.db import connection
from django.utils import timezone
from labelop.accounts.services import user_create
from labelop.annotations.models import Annotation, AnnotationRevision, Task
from labelop.assets.models import Asset
from labelop.assets.services import project_location
from labelop.permissions import Actor
from labelop.projects.models import Sensitivity
from labelop.projects.services import project_create

total = int(sys.argv[1])
owner, _ = user_create(actor=None, username="owner", password="a long bench password 1")
actor = Actor(user=owner, second_factor=True)
labels = [{"name": n, "kind": "bbox", "color": "#ff0000", "attributes": []}
          for n in ("car", "person", "bike")]
projects = []
for name in ("bench", *(f"fresh-{i}" for i in range(int(sys.argv[2])))):
    project = project_create(actor=actor, name=name, sensitivity=Sensitivity.STANDARD,
                             labels=labels)
    project.review_required = False
    project.save(update_fields=["review_required"])
    projects.append(project)
source, *fresh = projects
now = timezone.now()
started = time.perf_counter()
for project in projects:
    location = project_location(project)
    for start in range(0, total, 5000):
        rows = range(start, min(total, start + 5000))
        assets = Asset.objects.bulk_create(Asset(
            project=project, location=location, object_key=f"k{i}", sha256=f"{i:064x}",
            size=250_000, thumbnail_size=1, width=1920, height=1080, format="JPEG", mode="RGB",
            original_name=f"street-{i:06d}.jpg") for i in rows)
        state = "accepted" if project is source else "new"
        tasks = Task.objects.bulk_create(Task(project=project, asset=a, state=state,
                                              version=1 if project is source else 0,
                                              shape_count=5 if project is source else 0)
                                         for a in assets)
        if project is not source:
            continue
        shapes = {t.pk: [{"id": f"s{j}", "type": "bbox", "label": labels[j % 3]["name"],
                          "x": 10 + 37 * j + t.pk % 500, "y": 20 + 41 * j, "w": 80, "h": 60}
                         for j in range(5)] for t in tasks}
        Annotation.objects.bulk_create(Annotation(task=t, shapes=shapes[t.pk], updated_at=now)
                                       for t in tasks)
        AnnotationRevision.objects.bulk_create(AnnotationRevision(
            task=t, version=1, shapes=shapes[t.pk], author=owner, author_name="owner",
            created_at=now) for t in tasks)
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
done(source=source.pk, fresh=[p.pk for p in fresh],
     fill_s=round(time.perf_counter() - started, 1))
"""

SNAPSHOT = PRELUDE + """
from labelop.projects.models import Project
from labelop.releases.services import snapshot_create
project = Project.objects.get(pk=int(sys.argv[1]))
started = time.perf_counter()
made = snapshot_create(actor=None, project=project, name=sys.argv[2])
done(seconds=time.perf_counter() - started, snapshot=made.pk, size=made.size)
"""

CHANGE = PRELUDE + """
# A tenth of the tasks change between the two snapshots: a box moves, one is saved anew.
from django.db import transaction
from django.utils import timezone
from labelop.annotations.models import Annotation, AnnotationRevision, Task
project, every = int(sys.argv[1]), 10
now = timezone.now()
with transaction.atomic():
    rows = list(Annotation.objects.filter(task__project_id=project, task_id__gt=0)
                .values_list("task_id", "shapes"))[::every]
    for task_id, shapes in rows:
        shapes[0]["x"] += 5
    Annotation.objects.bulk_update([Annotation(task_id=t, shapes=s, updated_at=now)
                                    for t, s in rows], ["shapes", "updated_at"], batch_size=1000)
    AnnotationRevision.objects.bulk_create(AnnotationRevision(
        task_id=t, version=2, shapes=s, author_name="owner", created_at=now) for t, s in rows)
done(changed=len(rows))
"""

DIFF = PRELUDE + """
from labelop.releases.diff import snapshot_diff
from labelop.releases.models import Snapshot
a, b = (Snapshot.objects.get(pk=int(v)) for v in sys.argv[1:3])
started = time.perf_counter()
report = snapshot_diff(a, b)
done(seconds=time.perf_counter() - started, changed=len(report["changed"]))
"""

EXPORT = PRELUDE + """
from labelop.jobs.models import Job
from labelop.releases.exports import export_run, export_start
from labelop.releases.models import Snapshot
snapshot = Snapshot.objects.select_related("project").get(pk=int(sys.argv[1]))
export = export_start(actor=None, snapshot=snapshot, format=sys.argv[2], images="none",
                      background=False)
started = time.perf_counter()
result = export_run(Job.objects.get(pk=export.job_id))
done(seconds=time.perf_counter() - started, size=result["size"], export=export.pk)
"""

IMPORT = PRELUDE + """
from labelop.jobs.models import Job
from labelop.releases.exports import export_download
from labelop.releases.imports import label_import_run, label_import_start
from labelop.permissions import Actor
from labelop.accounts.models import User
from labelop.projects.models import Project
_, data = export_download(actor=None, export_id=int(sys.argv[1]))
project = Project.objects.get(pk=int(sys.argv[2]))
owner = User.objects.get(username="owner")
job = label_import_start(actor=Actor(user=owner, second_factor=True), project=project,
                         upload=data, name="coco.zip", format="coco", dry_run=False)
# Each run on tables tidied after the one before (not timed): no autovacuum meanwhile.
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
# The job is queued; this process runs it, as a worker would.
started = time.perf_counter()
result = label_import_run(Job.objects.get(pk=job.pk))
done(seconds=time.perf_counter() - started, changed=result["tasks_changed"],
     errors=result["error_count"])
"""


def _run(script: str, env: dict[str, str], *args: object) -> dict:
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(database: str, total: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_instance(tmp, database, PG_URL)
        filled = _run(FILL, env, total, IMPORTS)
        first = _run(SNAPSHOT, env, filled["source"], "v1")
        _run(CHANGE, env, filled["source"])
        second = _run(SNAPSHOT, env, filled["source"], "v2")
        diff = _run(DIFF, env, first["snapshot"], second["snapshot"])
        exports = {fmt: _run(EXPORT, env, second["snapshot"], fmt)
                   for fmt in ("coco", "yolo", "labelop")}
        imports = sorted((_run(IMPORT, env, exports["coco"]["export"], fresh)
                          for fresh in filled["fresh"]), key=lambda r: r["seconds"])
        for imported in imports:
            if (imported["changed"], imported["errors"]) != (total, 0):
                raise SystemExit(f"the import did not take every task: {imported}")
        imported = {**imports[len(imports) // 2], "runs": [r["seconds"] for r in imports],
                    "rss_mb": max(r["rss_mb"] for r in imports)}
    return {"database": database, "tasks": total, "fill_s": filled["fill_s"],
            "snapshot": second, "diff": diff, **exports, "import": imported,
            "manifest_mb": second["size"] / 2**20}


def _table(results: list[dict]) -> str:
    lines = ["## Snapshots, diffs, exports and label imports (`bench/snapshots.py`)", "",
             __doc__.split("\n\n", 1)[1].strip(), "",
             "| database | tasks | snapshot s (MB) | diff s | COCO export s | COCO RSS MB "
             "| YOLO export s | YOLO RSS MB | LabelOp export s | LabelOp RSS MB | COCO import s "
             "| import RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['database']} | {r['tasks']:,} | {r['snapshot']['seconds']:.1f} "
            f"({r['manifest_mb']:.0f}) | {r['diff']['seconds']:.1f} "
            f"| {r['coco']['seconds']:.1f} | {r['coco']['rss_mb']:.0f} "
            f"| {r['yolo']['seconds']:.1f} | {r['yolo']['rss_mb']:.0f} "
            f"| {r['labelop']['seconds']:.1f} | {r['labelop']['rss_mb']:.0f} "
            f"| {r['import']['seconds']:.1f} ({min(r['import']['runs']):.1f}-"
            f"{max(r['import']['runs']):.1f}) | {r['import']['rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch docs")
    args = parser.parse_args()
    results = []
    for database in args.databases.split(","):
        for size in map(int, args.sizes.split(",")):
            result = run(database, size)
            print(json.dumps(result), flush=True)
            results.append(result)
    if not args.no_write:
        write_section("snapshots", _table(results))


if __name__ == "__main__":
    main()
