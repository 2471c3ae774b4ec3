"""Load benchmark: many people at once on PostgreSQL, then proof that nothing was lost.

3 `labelop serve` processes (1 worker x 8 threads each) and 2 `labelop worker` processes on
one fresh PostgreSQL database, all on loopback. 50 annotators loop as the editor does: next
task, its image, its annotation, 3 autosaves (If-Match), submit; 5 reviewers accept what was
submitted; one owner takes a snapshot every minute. Each person is a thread with one
kept-alive connection to one of the servers, requests one after another. After the run:
every save the servers acknowledged is in the history, the audit chain verifies, and the
revisions in the database match the acknowledged saves one for one. Goal: >= 200 saves/s
with p95 < 100 ms and no errors, on this 2-core machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import write_section  # noqa: E402
from bench._server import free_port, fresh_instance  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/labelop_bench_load"
ANNOTATORS, REVIEWERS, SERVERS, WORKERS = 50, 5, 3, 2

SETUP = """
import django, hashlib, io, json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "labelop.config.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from PIL import Image
from labelop.accounts.services import token_create, user_create
from labelop.annotations.services import tasks_assign
from labelop.assets.ingest import Prepared, record_assets, store_objects
from labelop.assets.services import project_location
from labelop.permissions import Actor
from labelop.projects.models import Membership, Role, Sensitivity
from labelop.projects.services import project_create

tasks, annotators, reviewers = (int(v) for v in sys.argv[1:4])
password = "a long bench password 1"
owner, _ = user_create(actor=None, username="owner", password=password)
actor = Actor(user=owner, second_factor=True)
project = project_create(actor=actor, name="load", sensitivity=Sensitivity.STANDARD, labels=[
    {"name": "car", "kind": "bbox", "color": "#ff0000", "attributes": []},
    {"name": "person", "kind": "bbox", "color": "#00ff00", "attributes": []}])
buffer = io.BytesIO()
Image.new("RGB", (640, 480), (90, 120, 150)).save(buffer, "JPEG", quality=80)
jpeg = buffer.getvalue()  # every task's image: the same bytes, each stored as its own object
location = project_location(project)
for start in range(0, tasks, 1000):
    batch = [(f"frame-{i:06d}.jpg", Prepared(
        data=jpeg, format="JPEG", width=640, height=480, mode="RGB", orientation=1,
        size=len(jpeg), sha256=hashlib.sha256(b"%d" % i).hexdigest(), thumbnail=jpeg))
        for i in range(start, min(tasks, start + 1000))]
    for _, prepared in batch:
        store_objects(project, location, prepared)
    record_assets(project=project, location=location, created_by=owner, via="bench",
                  batch=batch)
people = {"annotators": [], "reviewers": []}
for kind, n, role in (("annotators", annotators, Role.ANNOTATOR),
                      ("reviewers", reviewers, Role.REVIEWER)):
    for i in range(n):
        user, _ = user_create(actor=None, username=f"{kind[:3]}{i}", password=password)
        Membership.objects.create(project=project, user=user, role=role)
        people[kind].append(token_create(actor=Actor(user=user, second_factor=True),
                                         name="load")[1])
tasks_assign(actor=actor, project=project, count=tasks,
             annotators=[f"ann{i}" for i in range(annotators)])
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE")
print(json.dumps({"project": project.pk, "owner": token_create(actor=actor, name="load")[1],
                  **people}))
"""

VERIFY = """
import django, json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "labelop.config.settings"
django.setup()
from labelop.annotations.models import AnnotationRevision
from labelop.audit.services import chain_verify
acknowledged = {tuple(pair) for pair in json.load(open(sys.argv[1]))}
stored = set(AnnotationRevision.objects.values_list("task_id", "version"))
chain = chain_verify(actor=None)
print(json.dumps({"acknowledged": len(acknowledged), "stored": len(stored),
                  "lost": len(acknowledged - stored), "unacknowledged": len(stored - acknowledged),
                  "chain_ok": chain.ok, "events": chain.events}))
"""


class Person(threading.Thread):
    """One person at one server: a kept-alive connection, requests one after another."""

    def __init__(self, port: int, token: str, until: float, log: Log) -> None:
        super().__init__(daemon=True)
        self.port, self.until, self.log = port, until, log
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, name: str, method: str, path: str, body: object = None,
             **headers: str) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request(method, f"/api/v1{path}", body=data,
                                  headers={**self.headers, **headers})
                response = self.conn.getresponse()
                payload, status = response.read(), response.status
                break
            except (http.client.HTTPException, OSError):
                # an idle connection the server closed: reconnect once, as browsers do
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        self.log.add(name, (time.perf_counter() - started) * 1000, status)
        if status >= 400:
            self.log.first_error.setdefault(name, f"{status} {payload[:300]!r}")
        is_json = "json" in response.getheader("Content-Type", "")
        return status, json.loads(payload) if is_json and payload else {}


class Annotator(Person):
    project: int

    def run(self) -> None:
        after = 0
        while time.monotonic() < self.until:
            _, found = self.call("next task", "GET",
                                 f"/projects/{self.project}/tasks/next?after={after}")
            task = found.get("task")
            if task is None:
                return
            after = task["id"]
            self.call("image", "GET", f"/images/{task['asset']}/content")
            _, current = self.call("annotation", "GET", f"/tasks/{after}/annotation")
            version, shapes = current["version"], list(current["shapes"])
            for i in range(3):  # autosaves while drawing
                shapes.append({"type": "bbox", "label": "car" if i % 2 else "person",
                               "x": 20 + 60 * i, "y": 30, "w": 50, "h": 40})
                status, saved = self.call("save", "PUT", f"/tasks/{after}/annotation",
                                          {"shapes": shapes}, **{"If-Match": str(version)})
                if status != 200:
                    break
                version, shapes = saved["version"], saved["shapes"]
                self.log.acknowledge(after, version)
            self.call("submit", "POST", f"/tasks/{after}/submit", {"version": version})


class Reviewer(Person):
    project: int
    seat: int

    def run(self) -> None:
        while time.monotonic() < self.until:
            _, page = self.call("review queue", "GET",
                                f"/projects/{self.project}/review-queue?limit=50")
            mine = [t for t in page.get("items", []) if t["id"] % REVIEWERS == self.seat]
            if not mine:
                time.sleep(0.5)
                continue
            for task in mine[:10]:
                self.call("review", "POST", f"/tasks/{task['id']}/review",
                          {"decision": "accept", "version": task["version"]})


class Owner(Person):
    project: int

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.until - 30:
            time.sleep(60)
            n += 1
            self.call("snapshot", "POST", f"/projects/{self.project}/snapshots",
                      {"name": f"load-{n}"})


class Log:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.saves: list[tuple[int, int]] = []
        self.first_error: dict[str, str] = {}

    def add(self, name: str, ms: float, status: int) -> None:
        with self.lock:
            self.samples[name].append(ms)
            self.statuses[name][status] += 1

    def acknowledge(self, task: int, version: int) -> None:
        with self.lock:
            self.saves.append((task, version))


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run(seconds: int, tasks: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        env = fresh_instance(tmp, "postgresql", PG_URL)
        setup = subprocess.run([sys.executable, "-c", SETUP, str(tasks), str(ANNOTATORS),
                                str(REVIEWERS)], env=env, capture_output=True, text=True,
                               cwd=ROOT)
        if setup.returncode != 0:
            raise SystemExit(f"setup failed:\n{setup.stderr[-3000:]}")
        info = json.loads(setup.stdout.strip().splitlines()[-1])
        ports = [free_port() for _ in range(SERVERS)]
        processes = [subprocess.Popen(
            [sys.executable, "-m", "labelop", "serve", "--port", str(port), "--workers", "1",
             "--threads", "8", "--job-workers", "0"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
        processes += [subprocess.Popen([sys.executable, "-m", "labelop", "worker"], env=env,
                                       cwd=ROOT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
        for process in processes:
            stack.callback(process.wait, 60)
            stack.callback(process.terminate)
        time.sleep(8)  # servers up, migrations checked
        log, until = Log(), time.monotonic() + seconds
        people: list[Person] = []
        for i, token in enumerate(info["annotators"]):
            people.append(Annotator(ports[i % SERVERS], token, until, log))
        for i, token in enumerate(info["reviewers"]):
            reviewer = Reviewer(ports[i % SERVERS], token, until, log)
            reviewer.seat = i
            people.append(reviewer)
        people.append(Owner(ports[0], info["owner"], until, log))
        for person in people:
            person.project = info["project"]  # type: ignore[attr-defined]
        started = time.monotonic()
        random.shuffle(people)
        for person in people:
            person.start()
        for person in people:
            person.join()
        elapsed = time.monotonic() - started
        saves_file = Path(tmp) / "saves.json"
        saves_file.write_text(json.dumps(log.saves))
        verify = subprocess.run([sys.executable, "-c", VERIFY, str(saves_file)], env=env,
                                capture_output=True, text=True, cwd=ROOT)
        if verify.returncode != 0:
            raise SystemExit(f"verify failed:\n{verify.stderr[-3000:]}")
        proof = json.loads(verify.stdout.strip().splitlines()[-1])
    endpoints = {}
    for name, samples in sorted(log.samples.items()):
        ordered = sorted(samples)
        statuses = log.statuses[name]
        errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
        refused = sum(n for status, n in statuses.items() if 400 <= status < 500)
        endpoints[name] = {"n": len(ordered), "per_s": len(ordered) / elapsed,
                           "p50": _percentile(ordered, 0.5), "p95": _percentile(ordered, 0.95),
                           "p99": _percentile(ordered, 0.99), "errors": errors,
                           "refused": refused}
    return {"seconds": elapsed, "endpoints": endpoints, "proof": proof,
            "first_errors": log.first_error}


def _table(result: dict) -> str:
    saves = result["endpoints"]["save"]
    proof = result["proof"]
    lines = ["## Load (`bench/load.py`)", "",
             f"{SERVERS} `labelop serve` processes (1 worker x 8 threads each) and {WORKERS} "
             f"`labelop worker` processes on PostgreSQL, {ANNOTATORS} annotators (next task, "
             "image, annotation, 3 autosaves with If-Match, submit), "
             f"{REVIEWERS} reviewers accepting, one owner taking a snapshot a minute; "
             f"{result['seconds']:.0f} s on loopback, all on the one machine. Goal: >= 200 "
             "saves/s with p95 < 100 ms and no errors.", "",
             "| request | count | per s | p50 ms | p95 ms | p99 ms | 5xx | 4xx |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, e in result["endpoints"].items():
        lines.append(f"| {name} | {e['n']:,} | {e['per_s']:.1f} | {e['p50']:.1f} | "
                     f"{e['p95']:.1f} | {e['p99']:.1f} | {e['errors']} | {e['refused']} |")
    lines += ["", f"Saves: {saves['per_s']:.1f}/s, p95 {saves['p95']:.0f} ms. After the run: "
              f"{proof['acknowledged']:,} acknowledged saves, {proof['lost']} of them missing "
              f"from the history; {proof['unacknowledged']} revisions the clients never saw "
              f"acknowledged; the audit chain of {proof['events']:,} events "
              f"{'verifies' if proof['chain_ok'] else 'is BROKEN'}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch docs")
    args = parser.parse_args()
    result = run(args.seconds, args.tasks)
    print(json.dumps(result, indent=1))
    if not args.no_write:
        write_section("load", _table(result))


if __name__ == "__main__":
    main()
