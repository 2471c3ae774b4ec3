"""What changed between two snapshots of a project: tasks added, removed and changed; per
changed task its shapes added, removed, moved and relabelled, and who saved or reviewed it in
between; label counts before and after. Read from the two signed manifests."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from labelop.annotations.models import AnnotationRevision
from labelop.annotations.shapes import diff as shape_diff
from labelop.core.errors import Invalid
from labelop.releases.models import Snapshot
from labelop.releases.selectors import signed_file

GEOMETRY = ("x", "y", "w", "h", "points")


def _manifest(snapshot: Snapshot) -> dict:
    return json.loads(signed_file(snapshot))["manifest"]


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


def snapshot_diff(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    if a.project_id != b.project_id:
        raise Invalid("Both snapshots must belong to one project.", code="other_project")
    old, new = _manifest(a), _manifest(b)
    before = {t["id"]: t for t in old["tasks"]}
    after = {t["id"]: t for t in new["tasks"]}
    changed_ids = [tid for tid, t in after.items()
                   if tid in before and (before[tid]["shapes"] != t["shapes"]
                                         or before[tid]["state"] != t["state"])]
    start, end = sorted((a.created_at, b.created_at))
    who: dict[int, list[dict]] = defaultdict(list)
    for task_id, author, version, at in (
            AnnotationRevision.objects.filter(task_id__in=changed_ids, created_at__gt=start,
                                              created_at__lte=end)
            .order_by("task_id", "version")
            .values_list("task_id", "author_name", "version", "created_at")):
        who[task_id].append({"saved_by": author, "version": version, "at": at.isoformat()})
    from labelop.review.models import ReviewDecision

    for task_id, reviewer, decision, at in (
            ReviewDecision.objects.filter(task_id__in=changed_ids, created_at__gt=start,
                                          created_at__lte=end)
            .order_by("task_id", "pk")
            .values_list("task_id", "reviewer_name", "decision", "created_at")):
        who[task_id].append({"reviewed_by": reviewer, "decision": decision,
                             "at": at.isoformat()})
    labels = sorted(set(old["counts"]["by_label"]) | set(new["counts"]["by_label"]))
    return {
        "from": {"id": a.pk, "name": a.name, "sha256": a.sha256},
        "to": {"id": b.pk, "name": b.name, "sha256": b.sha256},
        "tasks": {"added": sorted(set(after) - set(before)),
                  "removed": sorted(set(before) - set(after)),
                  "changed": len(changed_ids)},
        "changed": [{"task": tid, "image": after[tid]["image"],
                     "state": {"from": before[tid]["state"], "to": after[tid]["state"]},
                     "shapes": _shape_changes(before[tid]["shapes"], after[tid]["shapes"]),
                     "history": who.get(tid, [])} for tid in changed_ids],
        "labels": [{"label": label, "before": old["counts"]["by_label"].get(label, 0),
                    "after": new["counts"]["by_label"].get(label, 0)} for label in labels],
    }


def as_markdown(report: dict[str, Any]) -> str:
    """The release report a QA lead attaches to a release."""
    out = [f"# Release report: {report['from']['name']} → {report['to']['name']}", "",
           f"- From snapshot {report['from']['id']} (`{report['from']['sha256'][:16]}…`) to "
           f"{report['to']['id']} (`{report['to']['sha256'][:16]}…`)",
           f"- Tasks added: {len(report['tasks']['added'])}, removed: "
           f"{len(report['tasks']['removed'])}, changed: {report['tasks']['changed']}", "",
           "## Labels", "", "| label | before | after |", "|---|---:|---:|"]
    out += [f"| {r['label']} | {r['before']} | {r['after']} |" for r in report["labels"]]
    out += ["", "## Changed tasks", ""]
    for task in report["changed"]:
        s = task["shapes"]
        out.append(f"- Task {task['task']} ({task['image']}): {len(s['added'])} added, "
                   f"{len(s['removed'])} removed, {len(s['moved'])} moved, "
                   f"{len(s['relabelled'])} relabelled; by "
                   + (", ".join(sorted({h.get('saved_by') or h.get('reviewed_by') or '?'
                                        for h in task["history"]})) or "nobody on record"))
    return "\n".join(out) + "\n"
