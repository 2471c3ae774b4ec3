"""Exports load in datumaro, CVAT's dataset framework, as a team's training code would read
them: COCO, Pascal VOC and YOLO, with every image found and the right objects on each.

datumaro pins Pillow 12 and OpenCV 4, so it runs from a venv of its own (`make test` makes
`.venv-datumaro`), in a subprocess that prints what it read."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from labelop.annotations.models import Annotation, Task, TaskState
from labelop.assets.ingest import ingest
from labelop.assets.services import project_location
from labelop.projects.models import Sensitivity
from tests import images
from tests.conftest import World, api_for, run_jobs
from tests.labeling import LABELS

PYTHON = Path(__file__).resolve().parents[2] / ".venv-datumaro" / "bin" / "python"
READ = """
import json, sys
from datumaro.components.dataset import Dataset
dataset = Dataset.import_from(sys.argv[1], sys.argv[2])
labels = dataset.categories()[__import__("datumaro").AnnotationType.label]
print(json.dumps({item.id: {
    "image": bool(item.media and item.media.has_data),
    "objects": sorted({(a.id, labels[a.label].name, a.type.name if a.type.name != "polygon"
                        else "bbox" if len(a.points) == 8 else "polygon")
                       for a in item.annotations if a.label is not None}),
} for item in dataset}))
"""
SHAPES = [{"id": "a", "type": "bbox", "label": "car", "x": 10, "y": 20, "w": 30, "h": 40,
           "attributes": {"plate": "AB-1"}},
          {"id": "b", "type": "polygon", "label": "road", "points": [[0, 0], [50, 10], [20, 60]]},
          {"id": "c", "type": "tag", "label": "night"}]


def _datumaro(archive: bytes, fmt: str, where: Path) -> dict:
    assert PYTHON.exists(), "datumaro's venv is missing: run `make test` (it makes it)"
    zipfile.ZipFile(io.BytesIO(archive)).extractall(where)
    done = subprocess.run([str(PYTHON), "-c", READ, str(where), fmt], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("fmt", "reader"), [("coco", "coco"), ("voc", "voc_detection"),
                                             ("yolo", "yolo")])
def test_datumaro_reads_every_image_and_object(world: World, data_dir, tmp_path: Path,
                                               fmt: str, reader: str) -> None:
    world.project.sensitivity = Sensitivity.STANDARD
    world.project.review_required = False
    world.project.labels = LABELS
    world.project.save()
    for i in range(3):
        task = ingest(project=world.project, location=project_location(world.project),
                      data=images.jpeg(seed=i, size=(200, 150)), name=f"street {i}.jpg",
                      created_by=world.users["owner"], via="upload").task
        Task.objects.filter(pk=task.pk).update(state=TaskState.SUBMITTED)
        Annotation.objects.create(task=task, shapes=SHAPES[:i + 1])  # 1, 2 and 3 shapes
    owner = api_for(world.users["owner"])
    snapshot = owner.post(f"/projects/{world.project.pk}/snapshots", {"name": "v1"}).json()
    made = owner.post(f"/snapshots/{snapshot['id']}/exports",
                      {"format": fmt, "images": "original"}).json()["export"]
    run_jobs()
    archive = b"".join(owner.get(f"/exports/{made}/download").streaming_content)

    read = _datumaro(archive, reader, tmp_path / fmt)

    assert len(read) == 3
    assert all(item["image"] for item in read.values()), read
    objects = sorted(len({o[0] for o in item["objects"]}) if fmt == "coco"
                     else len(item["objects"]) for item in read.values())
    assert objects == [1, 2, 2]  # boxes and polygons; the tag is no object in these formats
    names = sorted({o[1] for item in read.values() for o in item["objects"]})
    assert names == ["car", "road"]
