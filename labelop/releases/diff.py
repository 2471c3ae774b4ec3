"""What changed between two snapshots of a project: tasks added, removed and changed; per
changed task its shapes added, removed, moved and relabelled; for every task listed, who
saved or reviewed it in between; label counts before and after. The two signed files are
read side by side as streams (their rows are in task order), so two 100k-task snapshots
take seconds and little memory beyond the report itself."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from labelop.annotations.models import AnnotationRevision
from labelop.annotations.shapes import diff as shape_diff
from labelop.audit.actions import AuditAction
from labelop.audit.services import record
from labelop.core.errors import Invalid
from labelop.permissions import Actor
from labelop.releases.manifest import SignedFile
from labelop.releases.models import Snapshot
from labelop.releases.selectors import signed_file

GEOMETRY = ("x", "y", "w", "h", "points")


def _shape_changes(before: list[dict], after: list[dict]) -> dict[str, list]:
    found = shape_diff(before, after)
    moved, relabelled, other = [], [], []
    for change in found["changed"]:
        old, new = change["before"], change["after"]
        if old.get("label") != new.get("label"):
            relabelled.append({"id": change["id"], "from": old.get("label"),
                               "to": new.get("label")})
        if any(old.get(k) != new.get(k) for k in GEOMETRY):
            moved.append({"id": change["id"], "label": new.get("label")})
        elif old.get("label") == new.get("label"):
            other.append({"id": change["id"], "label": new.get("label")})
    return {"added": [{"id": s["id"], "label": s.get("label", s["type"])}
                      for s in found["added"]],
            "removed": [{"id": s["id"], "label": s.get("label", s["type"])}
                        for s in found["removed"]],
            "moved": moved, "relabelled": relabelled, "attributes_changed": other}


def _side_by_side(old: Iterator[dict], new: Iterator[dict]
                  ) -> Iterator[tuple[dict | None, dict | None]]:
    """Rows of both files paired by task id (a merge of two id-ordered streams)."""
    a, b = next(old, None), next(new, None)
    last = 0
    pair: tuple[dict | None, dict | None]
    while a is not None or b is not None:
        if b is None or (a is not None and a["id"] < b["id"]):
            pair, a = (a, None), next(old, None)
        elif a is None or b["id"] < a["id"]:
            pair, b = (None, b), next(new, None)
        else:
            pair, a, b = (a, b), next(old, None), next(new, None)
        current = (pair[0] or pair[1])["id"]  # type: ignore[index]
        if current <= last:
            raise Invalid("A snapshot's tasks are out of order; it was not written by LabelOp.",
                          code="unordered_snapshot")
        last = current
        yield pair


def _entry(row: dict) -> dict[str, Any]:
    return {"task": row["id"], "image": row["image"], "state": row["state"],
            "shapes": len(row["shapes"])}


def release_report(*, actor: Actor | None, a: Snapshot, b: Snapshot, format: str
                   ) -> dict[str, Any]:
    """The diff from `a` to `b`, read by `actor` (None: the console operator) in `format`
    (json, markdown, page): audited, since it names people and images."""
    report = snapshot_diff(a, b)
    record(actor=actor, action=AuditAction.SNAPSHOT_DIFFED, project=a.project,
           target=f"snapshot:{a.pk}", details={"to": b.pk, "format": format,
                                               "via": "console" if actor is None else "api"})
    return report


def snapshot_diff(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """The release diff from snapshot `a` to `b` (either may be the older)."""
    if a.project_id != b.project_id:
        raise Invalid("Both snapshots must belong to one project.", code="other_project")
    old, new = SignedFile(signed_file(a)), SignedFile(signed_file(b))
    added, removed, changed = [], [], []
    for before, after in _side_by_side(old.tasks(), new.tasks()):
        if before is None:
            added.append(_entry(after))  # type: ignore[arg-type]
        elif after is None:
            removed.append(_entry(before))
        elif before["shapes"] != after["shapes"] or before["state"] != after["state"]:
            changed.append({"task": after["id"], "image": after["image"],
                            "state": {"from": before["state"], "to": after["state"]},
                            "shapes": _shape_changes(before["shapes"], after["shapes"])})
    _add_history(a, b, [*added, *removed, *changed])
    counts = old.header["counts"]["by_label"], new.header["counts"]["by_label"]
    return {
        "from": {"id": a.pk, "name": a.name, "sha256": a.sha256},
        "to": {"id": b.pk, "name": b.name, "sha256": b.sha256},
        "tasks": {"added": len(added), "removed": len(removed), "changed": len(changed)},
        "added": added, "removed": removed, "changed": changed,
        "labels": {label: {"before": counts[0].get(label, 0), "after": counts[1].get(label, 0)}
                   for label in sorted(set(counts[0]) | set(counts[1]))},
    }


def _add_history(a: Snapshot, b: Snapshot, entries: list[dict]) -> None:
    """Each entry's saves and reviews between the two snapshots, oldest first."""
    from labelop.review.models import ReviewDecision

    wanted = {e["task"]: e for e in entries}
    for entry in entries:
        entry["history"] = []
    start, end = sorted((a.created_at, b.created_at))
    found: dict[int, list[tuple[Any, dict]]] = defaultdict(list)
    saves = (AnnotationRevision.objects.filter(task__project_id=a.project_id,
                                               created_at__gt=start, created_at__lte=end)
             .values_list("task_id", "author_name", "version", "created_at"))
    for task_id, author, version, at in saves.iterator(chunk_size=5000):
        if task_id in wanted:
            found[task_id].append((at, {"saved_by": author, "version": version,
                                        "at": at.isoformat()}))
    reviews = (ReviewDecision.objects.filter(project_id=a.project_id, created_at__gt=start,
                                             created_at__lte=end)
               .values_list("task_id", "reviewer_name", "decision", "created_at"))
    for task_id, reviewer, decision, at in reviews.iterator(chunk_size=5000):
        if task_id in wanted:
            found[task_id].append((at, {"reviewed_by": reviewer, "decision": decision,
                                        "at": at.isoformat()}))
    for task_id, events in found.items():
        wanted[task_id]["history"] = [e for _, e in sorted(events, key=lambda p: p[0])]


def _people(entry: dict) -> str:
    names = sorted({h.get("saved_by") or h.get("reviewed_by") or "?" for h in entry["history"]})
    return ", ".join(names) or "nobody on record"


def as_markdown(report: dict[str, Any]) -> str:
    """The release report a QA lead attaches to a release."""
    out = [f"# Release report: {_cell(report['from']['name'])} → {_cell(report['to']['name'])}",
           "",
           f"- From snapshot {report['from']['id']} (`{report['from']['sha256'][:16]}…`) to "
           f"{report['to']['id']} (`{report['to']['sha256'][:16]}…`)",
           f"- Tasks added: {report['tasks']['added']}, removed: "
           f"{report['tasks']['removed']}, changed: {report['tasks']['changed']}", "",
           "## Labels", "", "| label | before | after |", "|---|---:|---:|"]
    out += [f"| {_cell(label)} | {n['before']} | {n['after']} |"
            for label, n in report["labels"].items()]
    for title, key in (("Added tasks", "added"), ("Removed tasks", "removed")):
        if report[key]:
            out += ["", f"## {title}", ""]
            out += [f"- Task {e['task']} ({_cell(e['image'])}): {e['shapes']} shape(s), "
                    f"{e['state']}; by {_cell(_people(e))}" for e in report[key]]
    out += ["", "## Changed tasks", ""]
    for task in report["changed"]:
        s = task["shapes"]
        out.append(f"- Task {task['task']} ({_cell(task['image'])}): {len(s['added'])} added, "
                   f"{len(s['removed'])} removed, {len(s['moved'])} moved, "
                   f"{len(s['relabelled'])} relabelled; by {_cell(_people(task))}")
    return "\n".join(out) + "\n"


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]()<>#!|~"} | {
    "\n": " ", "\r": " "})


def _cell(text: str) -> str:
    """Names typed by people (images, labels, snapshots), shown as text: no link, image,
    heading or table cell of their own in the report a QA lead attaches to a release."""
    return str(text).translate(_MARKDOWN)
