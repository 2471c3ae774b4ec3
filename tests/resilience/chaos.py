"""kill -9 at random points, then proof that nothing acknowledged was lost or half written.

One instance (SQLite, or a fresh PostgreSQL database) with a `labelop serve` and a `labelop
worker`, each in a process group of its own. Clients work through the HTTP API all the
while: an annotator saves (If-Match), an uploader sends images, the owner takes snapshots
(small project: written in the request; large one: by the worker), asks for exports and
imports labels. Round after round, the server or the worker (in turn) is killed with
SIGKILL after a random delay and started again. Then a last worker drains the queue and the
proof runs in a process of its own: objects a kill left unnamed are swept (`labelop storage
sweep`), then every acknowledged save and upload is there, the audit chain verifies, every
image object exists (the sweep took nothing a row names), every job ended (succeeded, or
failed with a reason), no export without its complete object can be downloaded and every stored one
matches its SHA-256, every sealed snapshot verifies, no label import was applied twice, and
every job has its queue entry.

Used by tests/resilience (a few rounds, in `make test`) and bench/resilience.py (30 kills of
each, written into docs/benchmarks.md).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long chaos password 1"

SETUP = """
import django, hashlib, io, json, os
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from PIL import Image
from labelop.accounts.services import token_create, user_create
from labelop.annotations.models import Task
from labelop.annotations.services import annotation_save, task_submit, tasks_assign
from labelop.annotations.shapes import SHAPE_LIST
from labelop.assets.ingest import Prepared, record_assets, store_objects
from labelop.assets.services import project_location
from labelop.permissions import Actor
from labelop.projects.models import Membership, Project, Role, Sensitivity
from labelop.projects.services import project_create

LABELS = [{"name": "car", "kind": "bbox", "color": "#ff0000", "attributes": []}]
owner, _ = user_create(actor=None, username="owner", password=%(password)r)
annotator, _ = user_create(actor=None, username="ann", password=%(password)r)
boss, ann = Actor(user=owner, second_factor=True), Actor(user=annotator, second_factor=True)

def project(name, n):
    made = project_create(actor=boss, name=name, sensitivity=Sensitivity.STANDARD,
                          labels=LABELS)
    Membership.objects.create(project=made, user=annotator, role=Role.ANNOTATOR)
    location = project_location(made)
    batch = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.new("RGB", (320, 240), (i %% 256, 60, 90)).save(buffer, "JPEG", quality=70)
        data = buffer.getvalue()
        prepared = Prepared(data=data, format="JPEG", width=320, height=240, mode="RGB",
                            orientation=1, size=len(data), thumbnail=data,
                            sha256=hashlib.sha256(data + name.encode() + b"%%d" %% i).hexdigest())
        store_objects(made, location, prepared)
        batch.append((f"{name}-{i:05d}.jpg", prepared))
    record_assets(project=made, location=location, created_by=owner, via="chaos", batch=batch)
    return made

small, large = project("small", %(small)d), project("large", %(large)d)
Project.objects.filter(pk=large.pk).update(review_required=False)  # submitted work enters
tasks_assign(actor=boss, project=small, count=%(small)d, annotators=["ann"])
tasks_assign(actor=boss, project=large, count=%(submitted)d, annotators=["ann"])
box = {"type": "bbox", "label": "car", "x": 10, "y": 10, "w": 50, "h": 40}
for task in Task.objects.filter(project=large, assignee=annotator):
    shapes = SHAPE_LIST.validate_python([box] * 3)
    saved = annotation_save(actor=ann, task_id=task.pk, shapes=shapes, if_match=0)
    task_submit(actor=ann, task_id=task.pk, version=saved["version"])
fresh = list(Task.objects.filter(project=large, assignee=None).values_list(
    "asset__original_name", flat=True))
print(json.dumps({"small": small.pk, "large": large.pk, "fresh": fresh,
                  "owner": token_create(actor=boss, name="chaos")[1],
                  "annotator": token_create(actor=ann, name="chaos")[1]}))
"""

PROOF = """
import django, hashlib, io, json, sys, zipfile
from collections import Counter
django.setup()
from django_tasks_db.models import DBTaskResult
from labelop.annotations.models import AnnotationRevision
from labelop.assets.models import Asset
from labelop.audit.models import AuditEvent
from labelop.audit.services import chain_verify
from labelop.core.errors import Conflict
from labelop.jobs.models import Job
from labelop.releases.exports import export_download
from labelop.releases.models import Export, Snapshot
from labelop.releases.selectors import signed_file
from labelop.releases.signing import verify
from labelop.storage.services import object_read

acked = json.load(open(sys.argv[1]))
# First what a kill left unnamed (objects stored, their rows never committed): swept as an
# operator would, with no grace since nothing runs now; the checks below then show that the
# sweep took nothing any row names.
from datetime import timedelta
from labelop.storage.models import StorageLocation
from labelop.storage.sweep import storage_sweep
orphans = sum(len(storage_sweep(actor=None, location=location, delete=True,
                                older_than=timedelta(seconds=-60)))
              for location in StorageLocation.objects.all())
revisions = {(t, v): s for t, v, s in AnnotationRevision.objects.values_list(
    "task_id", "version", "shapes")}
lost_saves = [(t, v) for t, v, digest in acked["saves"] if hashlib.sha256(json.dumps(
    revisions.get((t, v)), sort_keys=True).encode()).hexdigest() != digest]
lost_uploads = set(acked["uploads"]) - set(Asset.objects.values_list("pk", flat=True))
missing_objects = 0
for asset in Asset.objects.select_related("location"):
    try:
        for _ in object_read(asset.location, asset.object_key, asset.parts, 1):
            pass
    except Exception:
        missing_objects += 1
jobs = {j.pk: j for j in Job.objects.all()}
unfinished = [j.pk for j in jobs.values() if j.status not in ("succeeded", "failed")]
unexplained = [j.pk for j in jobs.values()
               if j.status == "failed" and not (j.error or {}).get("code")]
queued = {r.args_kwargs["args"][0] for r in DBTaskResult.objects.all()}
no_queue_entry = sorted(set(jobs) - queued)
exports = {"complete": 0, "refused": 0, "bad": 0}
for export in Export.objects.select_related("location", "snapshot"):
    if export.object_key:
        data = b"".join(object_read(export.location, export.object_key))
        good = hashlib.sha256(data).hexdigest() == export.sha256 and zipfile.ZipFile(
            io.BytesIO(data)).testzip() is None
        exports["complete" if good else "bad"] += 1
        continue
    try:
        export_download(actor=None, export_id=export.pk)
        exports["bad"] += 1  # downloadable without its object
    except Conflict:
        exports["refused"] += 1
snapshots = {"sealed": 0, "failed": 0, "pending": 0, "bad": 0}
for snapshot in Snapshot.objects.select_related("location"):
    snapshots[snapshot.status] += 1
    if snapshot.status == "sealed":
        ok, _ = verify(b"".join(signed_file(snapshot)))
        snapshots["bad"] += not ok
per_job = Counter(json.loads(details)["job"] for details in AuditEvent.objects.filter(
    action="labels.imported").values_list("details", flat=True))
twice = [job for job, n in per_job.items() if n > 1]
chain = chain_verify(actor=None)
results = list(DBTaskResult.objects.all())
retried = sum(1 for r in results if len(r.worker_ids) > 1)
cut_short = sum(len(r.worker_ids) - 1 for r in results if r.worker_ids) + sum(
    1 for r in results if r.exception_class_path.endswith("WorkerStopped"))
print(json.dumps({
    "saves": len(acked["saves"]), "lost_saves": len(lost_saves),
    "uploads": len(acked["uploads"]), "lost_uploads": len(lost_uploads),
    "assets": len(Asset.objects.all()), "missing_objects": missing_objects,
    "jobs": len(jobs), "jobs_unfinished": len(unfinished),
    "jobs_failed_unexplained": len(unexplained),
    "jobs_failed": sum(j.status == "failed" for j in jobs.values()),
    "jobs_run_again": retried, "jobs_cut_short": cut_short,
    "jobs_without_queue_entry": len(no_queue_entry),
    "exports": exports, "snapshots": snapshots, "imports_applied_twice": len(twice),
    "label_imports_applied": len(per_job), "orphaned_objects": orphans,
    "chain_ok": chain.ok, "events": chain.events}))
"""


@dataclass
class Acked:
    """What the servers acknowledged (a 2xx answer reached the client)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    saves: list[tuple[int, int, str]] = field(default_factory=list)
    uploads: list[int] = field(default_factory=list)
    requests: int = 0
    refused: int = 0  # no answer: the server was down or died mid-request


def _digest(shapes: object) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(shapes, sort_keys=True).encode()).hexdigest()


class Client:
    """One person at the server; a request that meets a dead server is counted as unanswered
    and tried later, as a user would."""

    def __init__(self, port: int, token: str, acked: Acked, stop: threading.Event,
                 info: dict) -> None:
        self.port, self.token, self.acked, self.stop, self.info = port, token, acked, stop, info

    def call(self, method: str, path: str, body: bytes | None = None,
             content_type: str = "application/json", **headers: str) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, f"/api/v1{path}", body=body, headers={
                "Authorization": f"Bearer {self.token}", "Content-Type": content_type,
                **headers})
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            with self.acked.lock:
                self.acked.refused += 1
            time.sleep(0.2)
            return 0, {}
        finally:
            conn.close()
        with self.acked.lock:
            self.acked.requests += 1
        if response.status >= 500 and response.status != 503:
            raise AssertionError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return response.status, json.loads(payload) if payload[:1] in (b"{", b"[") else {}



class Person(Client, threading.Thread, ABC):
    """A client in a thread of its own, doing its `step` until told to stop; what goes wrong
    (a 5xx) is kept in `errors` for the run to raise."""

    def __init__(self, *args: Any, errors: list[BaseException]) -> None:
        Client.__init__(self, *args)
        threading.Thread.__init__(self, daemon=True)
        self.errors = errors

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
        except BaseException as exc:
            self.errors.append(exc)

    @abstractmethod
    def step(self) -> None:
        """One round of this person's work."""


class Saver(Person):
    def step(self) -> None:
        task = random.choice(self.info["small_tasks"])
        status, current = self.call("GET", f"/tasks/{task}/annotation")
        if status != 200:
            return
        shapes = [{"type": "bbox", "label": "car", "x": random.randint(0, 200),
                   "y": random.randint(0, 150), "w": 30, "h": 20}
                  for _ in range(random.randint(1, 4))]
        status, saved = self.call("PUT", f"/tasks/{task}/annotation",
                                  json.dumps({"shapes": shapes}).encode(),
                                  **{"If-Match": str(current["version"])})
        if status == 200:
            with self.acked.lock:
                self.acked.saves.append((task, saved["version"], _digest(saved["shapes"])))


class Uploader(Person):
    def step(self) -> None:
        boundary = uuid.uuid4().hex
        parts = []
        for _ in range(3):
            buffer = io.BytesIO()
            Image.new("RGB", (64, 48), tuple(random.randbytes(3))).save(buffer, "PNG")
            parts.append(
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                f"filename=\"up-{uuid.uuid4().hex[:8]}.png\"\r\nContent-Type: image/png\r\n\r\n"
                .encode() + buffer.getvalue() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        status, answer = self.call("POST", f"/projects/{self.info['small']}/images", body,
                                   f"multipart/form-data; boundary={boundary}")
        if status in (200, 201):
            with self.acked.lock:
                self.acked.uploads += [item["asset"] for item in answer.get("created", [])]
        time.sleep(0.2)


class Owner(Person):
    """Snapshots of both projects, exports of the large one's, label imports into it."""

    def step(self) -> None:
        name = f"s-{uuid.uuid4().hex[:10]}"
        project = random.choice((self.info["small"], self.info["large"]))
        status, snapshot = self.call("POST", f"/projects/{project}/snapshots",
                                     json.dumps({"name": name}).encode())
        if status in (200, 201, 202) and project == self.info["large"]:
            self.info["large_snapshots"].append(snapshot["id"])
        sealed = self.info["large_snapshots"][-3:]
        if sealed:
            self.call("POST", f"/snapshots/{random.choice(sealed)}/exports", json.dumps({
                "format": random.choice(["coco", "yolo", "voc", "labelop"]),
                "images": random.choice(["none", "original"])}).encode())
        self.call("POST", f"/projects/{self.info['large']}/label-imports",
                  *_coco_form(random.sample(self.info["fresh"], 20)))
        time.sleep(1.5)  # about what one worker gets through, kills included


def _coco_form(names: list[str]) -> tuple[bytes, str]:
    coco = {"images": [{"id": i + 1, "file_name": n, "width": 320, "height": 240}
                       for i, n in enumerate(names)],
            "categories": [{"id": 1, "name": "car"}],
            "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1,
                             "bbox": [random.randint(0, 100), 20, 40, 30]}
                            for i in range(len(names))]}
    boundary = uuid.uuid4().hex
    fields = {"format": "coco", "mode": random.choice(["replace", "merge"])}
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                    f"{v}\r\n".encode() for k, v in fields.items())
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"labels.json\"\r\nContent-Type: application/json\r\n\r\n".encode()
             + json.dumps(coco).encode() + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


class Process:
    """A `labelop` command in a process group of its own, so that kill -9 takes its children."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "labelop", *self.args],
                                         env=self.env, cwd=ROOT, stdout=out, stderr=out,
                                         start_new_session=True)

    def kill(self) -> None:
        assert self.proc is not None
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def _wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server on port {port} did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _python(code: str, env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{code[:40]!r} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _drained(env: dict[str, str]) -> bool:
    return _python("import django, json; django.setup(); from labelop.jobs.models import Job; "
                   "print(json.dumps(Job.objects.filter(status__in=['queued', 'running'])"
                   ".exists()))", env) is False


def run(kills: int, *, database_url: str | None = None, small: int = 30, large: int = 400,
        submitted: int = 300, seed: int | None = None) -> dict:
    """`kills` kills of the server and as many of the worker while a job runs; the proof's
    figures."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABELOP_")}
        env.update(LABELOP_DATA_DIR=tmp, DJANGO_SETTINGS_MODULE="labelop.config.settings",
                   LABELOP_SNAPSHOT_INLINE_TASKS="100")
        if database_url:
            _fresh_database(database_url)
            env["LABELOP_DATABASE_URL"] = database_url
        info = _python(SETUP % {"password": PASSWORD, "small": small, "large": large,
                                "submitted": submitted}, env)
        info["small_tasks"] = _python(
            "import django, json; django.setup(); from labelop.annotations.models import Task; "
            f"print(json.dumps(list(Task.objects.filter(project={info['small']})"
            ".values_list('pk', flat=True))))", env)
        info["large_snapshots"] = []
        port, log = _free_port(), Path(tmp) / "processes.log"
        server = Process(["serve", "--port", str(port), "--workers", "1", "--threads", "4",
                          "--job-workers", "0"], env, log)
        worker = Process(["worker", "--interval", "0.2"], env, log)
        server.start()
        worker.start()
        _wait_for_port(port)
        acked, stop = Acked(), threading.Event()
        errors: list[BaseException] = []
        clients = [kind(port, info[who], acked, stop, info, errors=errors) for kind, who in (
            (Saver, "annotator"), (Saver, "annotator"), (Uploader, "owner"), (Owner, "owner"))]
        for client in clients:
            client.start()
        started, server_kills, worker_kills, busy_kills = time.monotonic(), 0, 0, 0
        running = _running_jobs(tmp, database_url)
        # In turn, until the server has died `kills` times and the worker `kills` times in
        # the middle of a job (a kill that finds no job running does not count there).
        while server_kills < kills or (busy_kills < kills and worker_kills < 4 * kills):
            if server_kills <= worker_kills and server_kills < kills:
                time.sleep(rng.uniform(0.3, 2.5))  # requests are always in flight
                server.kill()
                server.start()
                _wait_for_port(port)
                server_kills += 1
                continue
            deadline = time.monotonic() + 10  # a random point of a job's run
            while not running() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.6))
            busy_kills += running()
            worker.kill()
            worker.start()
            worker_kills += 1
        stop.set()
        for client in clients:
            client.join(timeout=60)
        chaos_seconds = time.monotonic() - started
        deadline = time.monotonic() + 300
        while not _drained(env):  # the last worker finishes (or fails) what is queued
            if time.monotonic() > deadline:
                raise AssertionError("jobs still queued or running 5 minutes after the last kill")
            time.sleep(1)
        # A user's next snapshot gives up what a killed request left pending.
        closing = Client(port, info["owner"], acked, stop, info)
        for project in (info["small"], info["large"]):
            status, _ = closing.call("POST", f"/projects/{project}/snapshots",
                                     json.dumps({"name": "closing"}).encode())
            assert status in (201, 202), status
        while not _drained(env):
            time.sleep(1)
        server.kill()
        worker.kill()
        if errors:
            raise errors[0]
        acked_file = Path(tmp) / "acked.json"
        acked_file.write_text(json.dumps({"saves": acked.saves, "uploads": acked.uploads}))
        proof = _python(PROOF, env, str(acked_file))
        if database_url:
            _drop_database(database_url)
    proof.update(server_kills=server_kills, worker_kills=worker_kills,
                 worker_kills_mid_job=busy_kills,
                 seconds=round(chaos_seconds),
                 requests=acked.requests, unanswered=acked.refused)
    return proof


def _running_jobs(data_dir: str, database_url: str | None) -> Callable[[], bool]:
    """Whether a job runs now, read straight from the database (no Django here)."""
    query = "SELECT EXISTS (SELECT 1 FROM jobs_job WHERE status = 'running')"

    def running() -> bool:
        if database_url:
            import psycopg

            with psycopg.connect(database_url, autocommit=True) as conn:
                return bool(conn.execute(query).fetchone()[0])  # type: ignore[index]
        import sqlite3

        with closing(sqlite3.connect(f"{data_dir}/labelop.sqlite3", timeout=30)) as conn:
            return bool(conn.execute(query).fetchone()[0])
    return running


def _fresh_database(url: str) -> None:
    _drop_database(url, create=True)


def _drop_database(url: str, *, create: bool = False) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def failures(proof: dict) -> list[str]:
    """What the proof found wrong; empty when all holds."""
    wrong = [f"{key}: {proof[key]}" for key in (
        "lost_saves", "lost_uploads", "missing_objects", "jobs_unfinished",
        "jobs_failed_unexplained", "jobs_without_queue_entry", "imports_applied_twice")
        if proof[key]]
    if proof["exports"]["bad"]:
        wrong.append(f"exports: {proof['exports']}")
    if proof["snapshots"]["bad"] or proof["snapshots"]["pending"]:
        wrong.append(f"snapshots: {proof['snapshots']}")
    if not proof["chain_ok"]:
        wrong.append("the audit chain is broken")
    return wrong
