"""Helpers for labelling tests: a label schema, tasks without image bytes, saving."""

from __future__ import annotations

import hashlib

from labelop.annotations.models import Task, TaskState
from labelop.assets.ingest import Prepared, record_assets
from labelop.assets.services import project_location
from labelop.projects.models import Project

WIDTH, HEIGHT = 640, 480
LABELS = [
    {"name": "car", "kind": "bbox", "color": "#ff0000",
     "attributes": [{"name": "occluded", "type": "boolean"},
                    {"name": "make", "type": "choice", "options": ["vw", "fiat"]},
                    {"name": "plate", "type": "text", "required": True}]},
    {"name": "road", "kind": "polygon", "color": "#00ff00"},
    {"name": "night", "kind": "tag", "color": "#0000ff"},
]


def make_tasks(project: Project, n: int, *, start: int = 0, created_by=None) -> list[Task]:
    """`n` tasks through the ingest recorder, without image bytes (these tests never read
    the objects): what an import would have recorded."""
    location = project_location(project)
    batch = [(f"img-{start + i:06d}.jpg",
              Prepared(data=b"", format="JPEG", width=WIDTH, height=HEIGHT, mode="RGB",
                       orientation=1, sha256=hashlib.sha256(f"{project.pk}:{start + i}".encode())
                       .hexdigest(), size=1000, thumbnail=b"t"))
             for i in range(n)]
    done = record_assets(project=project, location=location, batch=batch, created_by=created_by,
                         via="test")
    return [d.task for d in done]


def assign(task: Task, user) -> Task:
    Task.objects.filter(pk=task.pk).update(assignee=user, state=TaskState.ASSIGNED)
    task.refresh_from_db()
    return task


def save(client, task_id: int, shapes: list, version: int | str | None):
    """PUT the annotation as the editor does, naming the version it read."""
    headers = {} if version is None else {"If-Match": str(version)}
    return client.call("PUT", f"/tasks/{task_id}/annotation", {"shapes": shapes}, **headers)


# A car without its required plate: may be saved, may not be submitted.
BOX_LABEL_REQUIRED = {"id": "b9", "type": "bbox", "label": "car", "x": 1, "y": 1, "w": 5, "h": 5}
