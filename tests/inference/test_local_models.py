"""Local models on real photographs (scikit-image's, shipped in its wheel): the face model finds
the astronaut's face inside a local_only project, opens no socket beyond loopback, never
touches a person's annotation, and refuses weights that are not the pinned ones."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as photos

from labelop.annotations.models import Annotation, Task, TaskState
from labelop.assets.ingest import ingest
from labelop.assets.services import project_location
from labelop.audit.models import AuditEvent
from labelop.inference.builtin import CenterFace, TextRegions
from labelop.inference.local import WeightsMismatch, local_models
from labelop.jobs.models import Job
from labelop.projects.models import Sensitivity
from tests.conftest import World, api_for, run_jobs

ASTRONAUT_FACE = (170, 40, 110, 150)  # x, y, w, h around Eileen Collins' face (512x512)

_connections: list[object] | None = None


def _watch(event: str, args: tuple) -> None:
    if event == "socket.connect" and _connections is not None:
        _connections.append(args)


sys.addaudithook(_watch)  # audit hooks cannot be removed: this one only records when asked


def _jpeg(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=92)
    return out.getvalue()


def _astronaut_task(world: World) -> Task:
    world.project.sensitivity = Sensitivity.LOCAL_ONLY
    world.project.save()
    task = ingest(project=world.project, location=project_location(world.project),
                  data=_jpeg(photos.astronaut()), name="astronaut.jpg",
                  created_by=world.users["owner"], via="upload").task
    Task.objects.filter(pk=task.pk).update(assignee=world.users["annotator"],
                                           state=TaskState.ASSIGNED)
    return task


def _inside(shape: dict, box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    return (x <= shape["x"] and y <= shape["y"] and shape["x"] + shape["w"] <= x + w
            and shape["y"] + shape["h"] <= y + h)


def test_the_registry_lists_the_face_model_as_local(world: World) -> None:
    listed = api_for(world.users["annotator"]).get("/models").json()["items"]
    faces = next(m for m in listed if m["name"] == "faces")
    assert faces["runs"] == "local"
    assert faces["kind"] == "faces"
    assert faces["host"] is None
    assert faces["weights_sha256"] == CenterFace.weights_sha256
    assert faces["labels"] == ["face"]
    assert faces["runtime"] == "onnxruntime (CPU)"


@pytest.mark.django_db(transaction=True)
def test_a_local_only_project_finds_the_face_without_leaving_the_machine(world: World,
                                                                        data_dir) -> None:
    global _connections
    task = _astronaut_task(world)
    Annotation.objects.create(task=task, shapes=[], updated_by=world.users["annotator"])
    started = api_for(world.users["owner"]).post(f"/projects/{world.project.pk}/inference",
                                                 {"model": "faces"})
    assert started.status_code == 202, started.content

    _connections = []
    try:
        run_jobs()
        TextRegions().predict(Image.fromarray(photos.astronaut()))  # a fresh load, too
        CenterFace().predict(Image.fromarray(photos.astronaut()))
        opened = list(_connections)
    finally:
        _connections = None

    job = Job.objects.get(pk=started.json()["job"])
    assert job.status == "succeeded", job.error
    assert job.result == {"predictions": 1, "failed": []}
    for args in opened:  # the database on loopback or a unix socket, nothing else
        address = args[1]
        assert isinstance(address, str) or address[0] in {"127.0.0.1", "::1", "localhost"}, args
    prediction = api_for(world.users["annotator"]).get(
        f"/tasks/{task.pk}/predictions").json()["items"][0]
    assert prediction["runs"] == "local"
    assert prediction["weights_sha256"] == CenterFace.weights_sha256
    [face] = prediction["shapes"]
    assert face["type"] == "redaction"
    assert face["score"] > 0.8
    assert _inside(face, ASTRONAUT_FACE), face
    assert Annotation.objects.get(task=task).shapes == []  # suggestions only
    ran = json.loads(AuditEvent.objects.get(action="inference.ran").details)
    assert ran["weights_sha256"] == CenterFace.weights_sha256
    assert ran["runs"] == "local"
    assert ran["images"] == 1


def test_no_face_in_a_photograph_without_one(world: World) -> None:
    assert local_models()["faces"].predict(Image.fromarray(photos.coffee())) == []


def test_tampered_weights_refuse_to_load(tmp_path: Path) -> None:
    good = CenterFace().weights().read_bytes()
    tampered = tmp_path / "centerface.onnx"
    tampered.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    model = CenterFace()
    model.weights = lambda: tampered  # type: ignore[method-assign]

    with pytest.raises(WeightsMismatch, match="refusing to load"):
        model.predict(Image.fromarray(photos.astronaut()))


def _licence_plate() -> Image.Image:
    from PIL import ImageDraw, ImageFont

    image = Image.fromarray(photos.camera()).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 400, 420, 470), fill="white")
    draw.text((55, 410), "AB-123-CD", fill="black", font=ImageFont.load_default(size=44))
    return image


def test_the_text_model_finds_a_plate_and_a_fill_leaves_none() -> None:
    from labelop.assets import redaction

    text = local_models()["text"]
    found = text.predict(_licence_plate())
    on_plate = [r for r in found if _on_plate(r)]
    assert len(on_plate) == 1, found
    assert on_plate[0]["score"] >= 0.5  # detection score: the box is text, read or not

    left = text.predict(redaction.render(_licence_plate(), found))
    assert [r for r in left if _on_plate(r)] == []


def _on_plate(region: dict) -> bool:
    xs = [p[0] for p in region["points"]]
    ys = [p[1] for p in region["points"]]
    return min(xs) >= 40 and max(xs) <= 420 and min(ys) >= 395 and max(ys) <= 475


def test_one_click_suggests_redactions_for_the_task(world: World, data_dir) -> None:
    task = _astronaut_task(world)

    response = api_for(world.users["annotator"]).post(f"/tasks/{task.pk}/suggest-redactions")

    assert response.status_code == 201, response.content
    by_model = {p["model"]: p["shapes"] for p in response.json()["items"]}
    assert set(by_model) == {"faces", "text"}
    [face] = by_model["faces"]
    assert _inside(face, ASTRONAUT_FACE)
    assert not Annotation.objects.filter(task=task).exists()  # suggestions only
    assert AuditEvent.objects.filter(action="inference.ran").count() == 2
    assert api_for(world.users["target"]).post(
        f"/tasks/{task.pk}/suggest-redactions").status_code == 404  # not their task


@pytest.mark.django_db(transaction=True)
def test_a_whole_project_gets_redaction_suggestions(world: World, data_dir) -> None:
    task = _astronaut_task(world)

    started = api_for(world.users["owner"]).post(
        f"/projects/{world.project.pk}/suggest-redactions")
    run_jobs()

    assert started.status_code == 202, started.content
    jobs = Job.objects.filter(pk__in=started.json()["jobs"])
    assert sorted(j.params["model"] for j in jobs) == ["faces", "text"]
    assert all(j.status == "succeeded" for j in jobs)
    faces = task.predictions.get(model="faces").shapes
    assert len(faces) == 1
    assert _inside(faces[0], ASTRONAUT_FACE)


def _form() -> bytes:
    """A form with a name line and a licence plate line."""
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (640, 300), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    draw.text((30, 40), "Name: Jane Smith", fill="black", font=font)
    draw.text((30, 180), "AB-123-CD", fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_text_pattern_keeps_only_the_lines_of_that_shape(world: World, data_dir) -> None:
    task = ingest(project=world.project, location=project_location(world.project),
                  data=_form(), name="form.png", created_by=world.users["owner"],
                  via="upload").task
    owner = api_for(world.users["owner"])
    p = world.project.pk
    assert owner.post(f"/projects/{p}/inference", {"model": "faces", "text_pattern": "AA-999-AA"}
                      ).json()["code"] == "pattern_not_supported"

    every = owner.post(f"/projects/{p}/inference", {"model": "text"})
    plates = owner.post(f"/projects/{p}/inference", {"model": "text",
                                                     "text_pattern": "AA-999-AA"})
    run_jobs()

    assert every.status_code == plates.status_code == 202
    by_job = {pr.job_id: pr.shapes for pr in task.predictions.all()}
    assert len(by_job[every.json()["job"]]) == 2
    [plate] = by_job[plates.json()["job"]]
    assert min(y for _, y in plate["points"]) > 150  # the second line, not the name


def test_text_shapes_are_not_regular_expressions() -> None:
    from labelop.inference.builtin import text_pattern

    assert text_pattern("AA-999-AA").search("XAB-123-CDX")
    assert not text_pattern("AA-999-AA").search("AB-12-CD")
    assert text_pattern("(a+)+$").search("x(a+)+$")  # literal characters, no backtracking trap
    assert not text_pattern("(a+)+$").search("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")
