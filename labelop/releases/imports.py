"""Label imports: labels made elsewhere (COCO, YOLO, Pascal VOC, Label Studio, LabelOp JSON)
brought onto the project's images, to migrate from a peer or to take back labels edited
outside. A background job reads the file, matches each item to an image (by hash where the
file carries one, else by file name), fits its shapes to the label schema and the image,
and reports what would change; unless it is a dry run, it then writes every change in one
transaction: a revision per task under the importer's name, one audit event.

An item that cannot be used (no such image, a task already accepted, a shape outside the
image) is skipped and named in the report with why; it never sinks the others.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import tempfile
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter, ValidationError

from labelop.annotations import shapes as shape_rules
from labelop.annotations.labels import MAX_LABELS, LabelName, LabelSchemaIn, by_name
from labelop.annotations.models import Annotation, AnnotationRevision, Task, TaskLabel, TaskState
from labelop.annotations.services import id_ranges
from labelop.assets.models import Asset
from labelop.assets.services import project_location
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Invalid
from labelop.jobs.models import Job
from labelop.jobs.services import job_create, job_finish, job_progress
from labelop.permissions import Action, Actor, require
from labelop.projects.models import Project
from labelop.releases import formats
from labelop.storage.backends import StorageError
from labelop.storage.services import object_delete, object_put, object_read

logger = logging.getLogger(__name__)

FORMATS = ("coco", "yolo", "voc", "labelstudio", "labelop")
MODES = ("replace", "merge")  # the imported shapes replace a task's, or join them
KEEP = 1000  # errors, unmatched names and changes listed in a report (all are counted)
_CHUNK = 2000  # items compared with their tasks' shapes at a time
_label_name = TypeAdapter(LabelName)
# Colours given to labels an import adds to the schema, in turn.
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45", "#469990", "#9a6324")


def label_import_start(*, actor: Actor, project: Project, upload: Iterable[bytes], name: str,
                       format: str, dry_run: bool, mode: str = "replace",
                       add_labels: bool = False) -> Job:
    """Keep the uploaded file (as an object of the project's location, encrypted as it
    says) and start the job that reads it."""
    require(actor, Action.LABELS_IMPORT, project)
    if format not in FORMATS:
        raise Invalid(f"Formats: {', '.join(FORMATS)}.", code="unknown_format")
    if mode not in MODES:
        raise Invalid(f"mode is one of {', '.join(MODES)}.", code="unknown_mode")
    from labelop.releases.jobs import label_import_job

    location = project_location(project)
    digest, size = hashlib.sha256(), 0
    key = f"p{project.pk}/label-imports/{uuid.uuid4().hex}"

    def counted() -> Iterator[bytes]:
        nonlocal size
        for block in upload:
            digest.update(block)
            size += len(block)
            yield block

    object_put(location, key, counted())
    params = {"project": project.pk, "format": format, "dry_run": dry_run, "mode": mode,
              "add_labels": add_labels, "location": location.pk, "key": key,
              "file": {"name": name[:255], "sha256": digest.hexdigest(), "size": size}}
    with transaction.atomic():
        job = job_create(kind="label_import", project_id=project.pk, created_by=actor.user,
                         params=params, enqueue=lambda job_id: label_import_job.enqueue(job_id))
        record(actor=actor, action=AuditAction.LABELS_IMPORT_REQUESTED, project=project,
               target=f"project:{project.pk}", details={
                   "job": job.pk, "format": format, "dry_run": dry_run, "mode": mode,
                   "add_labels": add_labels, "file": params["file"]})
    return job


def label_import_run(job: Job) -> dict[str, Any]:
    """The job's work: read, match, fit, check, report; write unless a dry run. The uploaded
    copy is deleted at the end, whatever happened."""
    from labelop.storage.models import StorageLocation

    project = Project.objects.get(pk=job.params["project"])
    location = StorageLocation.objects.get(pk=job.params["location"])
    actor = Actor.for_job(job.created_by)
    try:
        if actor is not None:  # still an owner of the project
            require(actor, Action.LABELS_IMPORT, project)
        plan = _Plan()
        with _no_cycle_collection(), tempfile.NamedTemporaryFile() as upload:
            for block in object_read(location, job.params["key"]):
                upload.write(block)
            upload.flush()
            checked = _plan(plan, project, job, Path(upload.name))
            if job.params["dry_run"]:
                deque(checked, maxlen=0)
            else:
                _apply(project, plan, checked, actor=actor, job=job)
    finally:
        try:
            object_delete(location, job.params["key"])
        except StorageError:  # the import stands; `labelop storage sweep` removes the file
            logger.warning("label import %s: its uploaded file stays", job.pk, exc_info=True)
    return plan.report(job.params)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A large import builds millions of small objects that live until it ends and hold no
    cycles; Python's cycle collector would walk all of them again and again as they grow
    (it halves a 50k-task import's reading and checking). Back on at the end."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class _Target:
    """A task an item may land on, with what matching and fitting need of its image."""

    task: int
    state: str
    version: int
    name: str
    width: int
    height: int
    shapes: int  # how many the task has now


@dataclass
class _Change:
    target: _Target
    before: list[dict]
    after: list[dict]
    added: int = 0
    removed: int = 0


@dataclass
class _Plan:
    items: int = 0
    matched: int = 0
    unchanged: int = 0
    changes: list[_Change] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    unmatched_count: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    unknown_labels: Counter[str] = field(default_factory=Counter)
    new_labels: dict[str, str] = field(default_factory=dict)  # name -> kind, to add
    conflicts: int = 0  # tasks changed by someone while the import was writing

    def error(self, item: str, code: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < KEEP:
            self.errors.append({"item": item, "code": code, "message": message})

    def report(self, params: dict) -> dict[str, Any]:
        added = sum(c.added for c in self.changes)
        removed = sum(c.removed for c in self.changes)
        return {
            "dry_run": params["dry_run"], "format": params["format"], "mode": params["mode"],
            "file": params["file"], "items": self.items, "matched": self.matched,
            "unmatched": self.unmatched_count, "unmatched_names": self.unmatched,
            "tasks_changed": len(self.changes) - self.conflicts, "tasks_unchanged": self.unchanged,
            "shapes_added": added, "shapes_removed": removed,
            "labels_added": sorted(self.new_labels), "unknown_labels": dict(self.unknown_labels),
            "errors": self.errors, "error_count": self.error_count,
            "changes": [{"task": c.target.task, "image": c.target.name,
                         "shapes_before": len(c.before), "shapes_after": len(c.after)}
                        for c in self.changes[:KEEP]],
        }


# -- matching --------------------------------------------------------------------------------

class _Index:
    """The project's images by hash, by name, by name without folders, and by stem."""

    def __init__(self, project: Project) -> None:
        self.by_sha: dict[str, _Target] = {}
        self.by_name: dict[str, list[_Target]] = defaultdict(list)
        self.by_stem: dict[str, list[_Target]] = defaultdict(list)
        rows = (Asset.objects.filter(project=project)
                .values_list("sha256", "original_name", "width", "height", "task__id",
                             "task__state", "task__version", "task__shape_count"))
        # The query as Django writes it, its rows read plainly: plain values need none of
        # the per-row work of a values_list (half the time at 100k images).
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        for sha256, name, width, height, task, state, version, shapes in found:
            target = _Target(task, state, version, name, width, height, shapes)
            self.by_sha[sha256] = target
            self.by_name[name].append(target)
            self.by_stem[name.rsplit(".", 1)[0]].append(target)
        self.by_task = {t.task: t for t in self.by_sha.values()}

    def find(self, item: formats.Item) -> tuple[_Target | None, str]:
        """The item's task, or None and why not."""
        if item.sha256 and item.sha256 in self.by_sha:
            return self.by_sha[item.sha256], ""
        table = self.by_stem if item.stem_only else self.by_name
        for name in (item.name, *item.aliases):
            found = table.get(name) or self._exported(name, item.stem_only)
            if found and len(found) > 1:
                return None, (f"{len(found)} images are named {name!r}; a file that carries "
                              "image hashes (LabelOp JSON or COCO from LabelOp) tells them apart")
            if found:
                return found[0], ""
        return None, ""

    def _exported(self, name: str, stem_only: bool) -> list[_Target]:
        """A name as LabelOp exports write it, `<task id>-<image name>`, back in its project."""
        task_id, _, rest = name.partition("-")
        target = self.by_task.get(int(task_id)) if task_id.isdigit() else None
        if target is None:
            return []
        own = target.name.rsplit(".", 1)[0] if stem_only else target.name
        return [target] if own == rest else []


# -- fitting ---------------------------------------------------------------------------------

def _plan(plan: _Plan, project: Project, job: Job, path: Path) -> Iterator[list[_Change]]:
    """Every item matched, fitted and checked against its task, in one pass, into `plan`;
    the changes of each chunk are yielded as soon as they are known."""
    index = _Index(project)
    labels = {label["name"]: label for label in project.labels}
    add_labels, mode = job.params["add_labels"], job.params["mode"]
    # Only LabelOp's own format carries redaction regions: replacing a task's shapes from
    # another keeps its regions (what they hide must stay hidden).
    keep_regions = job.params["format"] != "labelop"
    # Shapes are checked against the schema with the labels added so far: a label joins
    # before the first shape that names it is checked.
    schema = by_name(project.labels)
    seen: set[int] = set()
    fitted: list[tuple[_Target, list[dict], str]] = []
    for item in formats.read(job.params["format"], path, name=job.params["file"]["name"]):
        for problem in item.errors:
            plan.error(item.name or job.params["file"]["name"], problem["code"],
                       problem["message"])
        if not item.name and not item.sha256:  # the file's own problems, no image's
            continue
        plan.items += 1
        if plan.items % 5000 == 0:
            job_progress(job, done=plan.items)
        target, why = index.find(item)
        if target is None:
            if why:
                plan.error(item.name, "ambiguous_name", why)
            else:
                plan.unmatched_count += 1
                if len(plan.unmatched) < KEEP:
                    plan.unmatched.append(item.name)
            continue
        if target.task in seen:
            plan.error(item.name, "duplicate_item",
                       f"The file describes image {target.name!r} more than once; the first "
                       "description was used.")
            continue
        seen.add(target.task)
        plan.matched += 1
        if target.state == TaskState.ACCEPTED:
            plan.error(item.name, "task_accepted", f"Task {target.task} was accepted; send it "
                       "back for rework before importing labels onto it.")
            continue
        if _size_differs(item, target):
            plan.error(item.name, "size_mismatch",
                       f"The file describes a {item.size[0]}x{item.size[1]} image; "  # type: ignore[index]
                       f"{target.name!r} is {target.width}x{target.height}.")
            continue
        # An item read only in part never takes shapes away: its readable ones join.
        fitted.append((target, _fit(plan, item, target, labels, add_labels),
                       mode if not item.errors else "merge"))
        if len(schema) != len(project.labels) + len(plan.new_labels):
            schema = by_name([*project.labels, *_added_labels(plan, len(project.labels))])
        if len(fitted) == _CHUNK:
            yield _settle(plan, fitted, schema, keep_regions)
            fitted = []
    yield _settle(plan, fitted, schema, keep_regions)


def _settle(plan: _Plan, chunk: list[tuple[_Target, list[dict], str]], schema: dict[str, dict],
            keep_regions: bool) -> list[_Change]:
    """Compare a chunk of fitted items with their tasks' shapes; the chunk's changes."""
    known = len(plan.changes)
    # A task without shapes (a new project's, often all of them) has nothing to read.
    drawn = [t.task for t, _, _ in chunk if t.shapes]
    current = dict(Annotation.objects.filter(task_id__in=drawn)
                   .values_list("task_id", "shapes")) if drawn else {}
    for target, shapes, how in chunk:
        _compare(plan, target, current.get(target.task) or [], shapes, schema, how,
                 keep_regions=keep_regions)
    return plan.changes[known:]


def _size_differs(item: formats.Item, target: _Target) -> bool:
    if item.size is None or item.relative:
        return False
    return tuple(item.size) not in {(target.width, target.height), (target.height, target.width)}


def _fit(plan: _Plan, item: formats.Item, target: _Target, labels: dict[str, dict],
         add_labels: bool) -> list[dict]:
    """The item's shapes in the image's pixels, each given the kind its label has."""
    out = []
    for shape in item.shapes:
        shape = _absolute(shape, target) if item.relative else shape  # copied by _valid
        label = shape.get("label")
        if shape["type"] == "redaction" or label is None:
            out.append(shape)
            continue
        kind = labels.get(label, {}).get("kind") or plan.new_labels.get(label)
        if kind is None and add_labels and _addable(plan, item, labels, label):
            kind = plan.new_labels[label] = shape["type"]
        if kind is None:
            plan.unknown_labels[label] += 1
            continue
        converted = _as_kind(shape, kind)
        if converted is None:
            plan.error(item.name, "wrong_kind", f"Label {label!r} is a {kind}; a "
                       f"{shape['type']} cannot become one.")
            continue
        out.append(converted)
    return out


def _addable(plan: _Plan, item: formats.Item, labels: dict[str, dict], label: Any) -> bool:
    """Whether a label the file names may join the schema, under the schema's own rules
    (a name of 1 to 100 printable characters, unique whatever its case, at most
    MAX_LABELS labels); said once per label when not."""
    if label in plan.unknown_labels:
        return False
    taken = {name.casefold() for name in [*labels, *plan.new_labels]}
    try:
        fits = _label_name.validate_python(label) == label
    except ValidationError:
        fits = False
    why = ("is not 1 to 100 printable characters" if not fits else
           "differs from an existing label only in case" if label.casefold() in taken else
           f"would pass the schema's {MAX_LABELS} labels"
           if len(taken) >= MAX_LABELS else None)
    if why is not None:
        plan.error(item.name, "label_not_added", f"Label {str(label)[:100]!r} {why}; "
                   "its shapes are left out.")
    return why is None


def _absolute(shape: dict, target: _Target) -> dict:
    w, h = target.width, target.height
    shape = dict(shape)
    for key, scale in (("x", w), ("y", h), ("w", w), ("h", h)):
        if key in shape:
            shape[key] = round(shape[key] * scale, 3)
    if "points" in shape:
        shape["points"] = [[round(x * w, 3), round(y * h, 3)] for x, y in shape["points"]]
    return shape


def _as_kind(shape: dict, kind: str) -> dict | None:
    """A box becomes a 4-point polygon, a polygon its bounding box; a tag stays a tag."""
    if shape["type"] == kind:
        return shape
    base = {k: v for k, v in shape.items() if k not in {"x", "y", "w", "h", "points", "type"}}
    if shape["type"] == "bbox" and kind == "polygon":
        x, y, w, h = shape["x"], shape["y"], shape["w"], shape["h"]
        return {**base, "type": "polygon", "points": [[x, y], [x + w, y], [x + w, y + h],
                                                      [x, y + h]]}
    if shape["type"] == "polygon" and kind == "bbox":
        xs, ys = [p[0] for p in shape["points"]], [p[1] for p in shape["points"]]
        return {**base, "type": "bbox", "x": min(xs), "y": min(ys), "w": max(xs) - min(xs),
                "h": max(ys) - min(ys)}
    return None


def _added_labels(plan: _Plan, start: int) -> list[dict]:
    return [{"name": name, "kind": kind, "color": PALETTE[(start + i) % len(PALETTE)],
             "attributes": []} for i, (name, kind) in enumerate(sorted(plan.new_labels.items()))]


def _compare(plan: _Plan, target: _Target, before: list[dict], imported: list[dict],
             schema: dict[str, dict], mode: str, *, keep_regions: bool) -> None:
    """Validate the task's new shapes as a save would; the ones that do not fit are dropped
    and named."""
    after = _valid(plan, target, imported, schema, taken={s["id"] for s in before})
    if mode == "replace" and keep_regions:
        after = [*(s for s in before if s["type"] == "redaction"), *after]
    if mode == "merge":
        known = {_geometry(s) for s in before}
        after = [*before, *(s for s in after if _geometry(s) not in known)]
    # Shapes drawn the same (whatever their ids) are kept; a task with none skips the work.
    kept = (sum((Counter(map(_geometry, after)) & Counter(map(_geometry, before))).values())
            if before and after else 0)
    if len(after) == len(before) == kept:
        plan.unchanged += 1
        return
    if len(after) > settings.LABELOP_MAX_SHAPES:
        plan.error(target.name, "too_many_shapes", f"{len(after)} shapes; an annotation holds "
                   f"at most {settings.LABELOP_MAX_SHAPES}.")
        return
    plan.changes.append(_Change(target, before, after, added=len(after) - kept,
                                removed=len(before) - kept))


def _geometry(shape: dict) -> tuple:
    """A shape without its id, to compare what is drawn (as Python compares numbers, 5 and
    5.0 are one coordinate)."""
    return tuple(sorted((k, _frozen(v)) for k, v in shape.items() if k != "id"))


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def _valid(plan: _Plan, target: _Target, shapes: list[dict], schema: dict[str, dict],
           taken: set[str]) -> list[dict]:
    """The shapes that pass the save's own checks (the schema's labels by name), with fresh
    ids."""
    shapes = [{**s, "id": f"i{j}"} for j, s in enumerate(shapes, start=1)]
    stored = shape_rules.plain_boxes(shapes, labels=schema, width=target.width,
                                     height=target.height)
    if stored is None:
        stored = _checked(plan, target, shapes, list(schema.values()))
    for shape in stored:  # never the id of a shape the task keeps (merge)
        while shape["id"] in taken:
            shape["id"] = f"i{hashlib.sha256(shape['id'].encode()).hexdigest()[:11]}"
        taken.add(shape["id"])
    return stored


def _checked(plan: _Plan, target: _Target, shapes: list[dict], schema: list[dict]) -> list[dict]:
    """The shapes that pass SHAPE_LIST and `validate`; each one that does not is named."""
    try:
        parsed = shape_rules.SHAPE_LIST.validate_python(shapes)
    except ValidationError as exc:
        bad = {int(e["loc"][0]) for e in exc.errors() if e["loc"]}
        for i in sorted(bad):
            plan.error(target.name, "unreadable_shape", f"Shape {i + 1} is not a valid "
                       f"{shapes[i].get('type', 'shape')}.")
        parsed = shape_rules.SHAPE_LIST.validate_python(
            [s for i, s in enumerate(shapes) if i not in bad])
    while True:
        try:
            stored = shape_rules.validate(parsed, labels=schema, width=target.width,
                                          height=target.height, max_shapes=10**9)
            break
        except Invalid as exc:
            problems = exc.extra.get("errors", [])
            if not problems:
                plan.error(target.name, exc.code, exc.detail)
                return []
            for problem in problems[:20]:
                plan.error(target.name, problem["code"], problem["message"])
            bad = {p["index"] for p in problems}
            parsed = [s for i, s in enumerate(parsed) if i not in bad]
    return stored


# -- writing ---------------------------------------------------------------------------------

def _add_to_schema(project: Project, plan: _Plan, actor: Actor | None) -> None:
    """The new labels join the schema as it is now (re-read under the lock: an owner may
    have added one meanwhile), checked as a schema edit is."""
    locked = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    taken = {label["name"].casefold() for label in locked.labels}
    added = [a for a in _added_labels(plan, len(locked.labels))
             if a["name"].casefold() not in taken]
    if not added:
        return
    labels = [*locked.labels, *added]
    LabelSchemaIn.model_validate({"labels": labels})
    locked.labels = labels
    locked.save(update_fields=["labels"])
    record(actor=actor, action=AuditAction.LABELS_UPDATED, project=locked,
           target=f"project:{project.pk}",
           details={"added": [a["name"] for a in added], "removed": [], "changed": [],
                    "labels": len(locked.labels), "via": "label import"})


def _apply(project: Project, plan: _Plan, checked: Iterator[list[_Change]], *,
           actor: Actor | None, job: Job) -> None:
    """Every change in one transaction, the job's outcome included, written chunk by chunk
    by a few set-based statements each.

    On PostgreSQL the writes stream: each chunk goes out as soon as it is checked, staged by
    COPY, then written in pipeline mode (no statement waits for its answer), so the database
    writes one chunk on one core while Python reads and checks the next on the other; foreign
    keys are checked by each statement, not all at the commit. SQLite writes in this process,
    so nothing would overlap: the file is read and checked first, and the one write lock is
    held for the writes alone."""
    streamed = connection.vendor == "postgresql"
    chunks: Iterable[list[_Change]] = checked if streamed else list(checked)
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic():
        with _Writer(at=at, by=actor.user.pk if actor else None, project=project,
                     author_name=actor.name if actor else "console") as writer:
            for changes in chunks:
                writer.write(changes)
        if not plan.changes:
            return
        fresh = _fresh(plan, writer.stale)
        if plan.new_labels:
            _add_to_schema(project, plan, actor)
        record(actor=actor, action=AuditAction.LABELS_IMPORTED, project=project,
               target=f"project:{project.pk}", details={
                   "format": job.params["format"], "mode": job.params["mode"],
                   "file": job.params["file"], "tasks": id_ranges(c.target.task for c in fresh),
                   "count": len(fresh), "job": job.pk})
        # Finished with the write itself: a worker killed after this commit leaves no job
        # that would import the file again.
        job_finish(job, result=plan.report(job.params))


def _fresh(plan: _Plan, stale: set[int]) -> list[_Change]:
    """The changes written; those whose tasks moved on are reported."""
    fresh = []
    for change in plan.changes:
        if change.target.task not in stale:
            fresh.append(change)
            continue
        plan.conflicts += 1
        plan.error(change.target.name, "changed_meanwhile", f"Task {change.target.task} "
                   "changed while the import ran; import again to include it.")
    return fresh


# A chunk's new shape lists wait in a temporary table of the transaction: each list crosses
# to the database once (not once for the annotation and again for its revision), by COPY on
# PostgreSQL and one prepared INSERT on SQLite, and no statement carries thousands of values.
_STAGE = "labelop_import_stage"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class _Writer:
    """The staged changes written, a chunk at a time: each task moved a version on if nobody
    changed it since the plan read it (nor accepted it), its annotation replaced, a revision
    added, its label counts replaced. The update's own row locks make the version check and
    the write one step."""

    def __init__(self, *, at: Any, by: int | None, author_name: str, project: Project) -> None:
        self.at, self.by, self.author_name, self.project = at, by, author_name, project
        self.pg = connection.vendor == "postgresql"  # streamed: see _apply
        self.stale: set[int] = set()  # tasks that moved on: left alone
        self._pipeline: Any = None  # streamed: the last chunk's statements, still running
        self._answer: Any = None  # and its stale tasks, once they have run

    def __enter__(self) -> _Writer:
        json = "jsonb" if self.pg else "text"
        self.cursor = connection.cursor()
        self.cursor.execute(
            f"CREATE TEMPORARY TABLE {_STAGE} (task_id bigint PRIMARY KEY, version integer "
            f"NOT NULL, n integer NOT NULL, shapes {json} NOT NULL, labels {json} NOT NULL)")
        if self.pg:
            self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._wait(*exc)
            if exc[0] is None:
                self.cursor.execute(f"DROP TABLE {_STAGE}")
        finally:
            self.cursor.close()

    def write(self, changes: list[_Change]) -> None:
        if not changes:
            return
        self._wait()
        self._stage(changes)
        self._ids = [c.target.task for c in changes]
        if self.pg:  # the rest runs while the caller checks the next chunk
            self._pipeline = connection.connection.pipeline()
            self._pipeline.__enter__()
        self._claim(changes)
        self._replace()

    def _wait(self, error: type[BaseException] | None = None, exc: BaseException | None = None,
              tb: Any = None) -> None:
        """The last chunk's statements done (streamed), its stale tasks noted. After an error
        the pipeline is only ended: its answer may never have come, and the error is the one
        to raise. Django's errors either way, as its own cursors raise them."""
        if self._pipeline is None:
            return
        pipeline, self._pipeline = self._pipeline, None
        answer, self._answer = self._answer, None
        try:
            with connection.wrap_database_errors:
                pipeline.__exit__(error, exc, tb)
            if error is None:
                self.stale.update(pk for (pk,) in answer.fetchall())
        finally:
            if answer is not None:
                answer.close()

    def _stage(self, changes: list[_Change]) -> None:
        rows = ((c.target.task, c.target.version, len(c.after), c.after,
                 shape_rules.label_counts(c.after)) for c in changes)
        if self.pg:  # COPY: a third of the database's time of any INSERT of this
            with self.cursor.cursor.copy(f"COPY {_STAGE} FROM STDIN") as copy:
                for task, version, n, shapes, labels in rows:
                    copy.write_row((task, version, n, Jsonb(shapes, _dumps),
                                    Jsonb(labels, _dumps)))
            return
        self.cursor.executemany(f"INSERT INTO {_STAGE} VALUES (%s, %s, %s, %s, %s)",  # noqa: S608
                                [(task, version, n, _dumps(shapes), _dumps(labels))
                                 for task, version, n, shapes, labels in rows])

    def _in_chunk(self, column: str) -> tuple[str, list]:
        """`column` among the chunk's staged tasks, as a condition and its values. PostgreSQL
        is given their ids too, to find them by their keys: it takes a stage it has not
        measured for a big one, and would scan every task of the project."""
        staged = f"{column} IN (SELECT task_id FROM {_STAGE})"  # noqa: S608 - names
        if self.pg:
            return f"{column} = ANY(%s) AND {staged}", [self._ids]
        return staged, []

    def _claim(self, changes: list[_Change]) -> None:
        """The chunk's tasks a version on; the stage keeps the changes of those moved."""
        task = Task._meta.db_table
        chunk, ids = self._in_chunk(f"{task}.id")
        update = (f"UPDATE {task} SET version = {task}.version + 1, shape_count = s.n, "  # noqa: S608 - names
                  f"updated_at = %s FROM {_STAGE} s WHERE {chunk} AND {task}.id = s.task_id "
                  f"AND {task}.version = s.version AND {task}.state <> %s "
                  f"RETURNING {task}.id")
        params = [self.at, *ids, TaskState.ACCEPTED]
        if self.pg:  # streamed: the stale ones are read once the pipeline has run
            self._answer = connection.cursor()
            self._answer.execute(f"WITH claimed AS ({update}) DELETE FROM {_STAGE} "  # noqa: S608
                                 "WHERE task_id NOT IN (SELECT id FROM claimed) "
                                 "RETURNING task_id", params)
            return
        self.cursor.execute(update, params)
        stale = {c.target.task for c in changes} - {pk for (pk,) in self.cursor.fetchall()}
        if stale:
            self.cursor.executemany(f"DELETE FROM {_STAGE} WHERE task_id = %s",  # noqa: S608
                                    [(pk,) for pk in stale])
            self.stale |= stale

    def _replace(self) -> None:
        annotation, revision = Annotation._meta.db_table, AnnotationRevision._meta.db_table
        task_label = TaskLabel._meta.db_table
        staged, ids = self._in_chunk("task_id")
        # Label counts come out of the stage's {label: count} objects, by the database's own
        # JSON functions: half the time of sending a row per task and label.
        each = "jsonb_each_text(s.labels)" if self.pg else "json_each(s.labels)"
        for sql, params in (
            (f"DELETE FROM {annotation} WHERE {staged}", ids),  # noqa: S608
            (f"INSERT INTO {annotation} (task_id, shapes, updated_at, updated_by_id) "  # noqa: S608
             f"SELECT task_id, shapes, %s, %s FROM {_STAGE}", [self.at, self.by]),
            (f"INSERT INTO {revision} (task_id, version, shapes, author_id, author_name, "  # noqa: S608
             f"created_at) SELECT task_id, version + 1, shapes, %s, %s, %s FROM {_STAGE}",
             [self.by, self.author_name, self.at]),
            (f"DELETE FROM {task_label} WHERE {staged}", ids),  # noqa: S608
            (f"INSERT INTO {task_label} (project_id, task_id, label, shapes) "  # noqa: S608
             f"SELECT %s, s.task_id, j.key, CAST(j.value AS integer) FROM {_STAGE} s, {each} j",
             [self.project.pk]),
            # Emptied for the next chunk (TRUNCATE leaves no dead rows for it to scan).
            (f"{'TRUNCATE' if self.pg else 'DELETE FROM'} {_STAGE}", []),
        ):
            self.cursor.execute(sql, params)
