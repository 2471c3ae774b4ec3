"""External (HTTP) model endpoints: registered by a site admin, refused where the profile keeps
images local, and called SSRF-safely (vetted addresses only, no redirects) where allowed.
The 'external' model is a real HTTP server on loopback, registered with the private-network
switch a site admin would use for a model server on the internal network."""

from __future__ import annotations

import json

import pytest

from labelop.annotations.models import Annotation
from labelop.audit.models import AuditEvent
from labelop.inference.models import ModelEndpoint, Prediction
from labelop.jobs.models import Job
from labelop.projects.models import Sensitivity
from tests.conftest import World, api_for, run_jobs
from tests.model_server import ModelServer


def _register(world: World, url: str, name: str = "cloud-detector", **extra: object):
    return api_for(world.users["site_admin"]).post(
        "/models/external", {"name": name, "url": url, "allow_private_network": True, **extra})


def _standard_with_labels(world: World) -> None:
    """A standard project (it may send images out) with the labels models answer in."""
    world.project.sensitivity = Sensitivity.STANDARD
    world.project.save()
    _labels(world)


def _labels(world: World) -> None:
    world.project.labels = [{"name": "car", "kind": "bbox", "color": "#ff0000",
                             "attributes": []}]
    world.project.save()


# -- registering ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://127.0.0.1:8080/detect", "https://localhost/detect", "https://10.1.2.3/detect",
    "https://[::1]/detect", "https://100.64.0.1/", "https://[::ffff:127.0.0.1]/",
    "https://[64:ff9b::a00:1]/", "https://[2002:a00:1::]/", "https://[fec0::1]/"])
def test_private_targets_are_refused_unless_the_admin_allows_them(world: World, url: str) -> None:
    response = api_for(world.users["site_admin"]).post(
        "/models/external", {"name": "sneaky", "url": url})

    assert response.status_code == 422
    assert response.json()["code"] == "endpoint_refused"
    assert "private" in response.json()["detail"]
    assert not ModelEndpoint.objects.exists()


@pytest.mark.parametrize(("url", "allow_private"), [
    ("ftp://models.example/detect", False), ("https://user:pw@models.example/", False),
    ("file:///etc/passwd", False), ("http://models.example/detect", False),  # https only
    ("http://[zz]/detect", False),
    ("https://169.254.169.254/latest/meta-data", True),  # cloud metadata: never
    ("https://[fe80::1]/", True), ("https://0.0.0.0/", True)])
def test_urls_other_than_https_to_a_real_host_are_refused(world: World, url: str,
                                                          allow_private: bool) -> None:
    response = api_for(world.users["site_admin"]).post(
        "/models/external", {"name": "odd", "url": url, "allow_private_network": allow_private})
    assert response.status_code == 422, response.content
    assert response.json()["code"] in {"endpoint_refused", "invalid_request"}
    assert not ModelEndpoint.objects.exists()


def test_a_registered_endpoint_is_listed_as_external_and_audited(world: World,
                                                                  model_server: ModelServer
                                                                  ) -> None:
    created = _register(world, model_server.url, version="2.1", labels=["car"])
    assert created.status_code == 201, created.content

    listed = api_for(world.users["annotator"]).get("/models").json()["items"]

    assert [m for m in listed if m["runs"] == "external"] == [{
                       "name": "cloud-detector", "version": "2.1", "kind": "objects",
                       "runs": "external", "host": "127.0.0.1", "weights_sha256": "",
                       "runtime": "HTTP",
                       "labels": ["car"]}]
    event = AuditEvent.objects.get(action="model.registered")
    assert event.actor_name == "site_admin"
    assert model_server.received == []  # registering calls nothing
    assert _register(world, model_server.url).json()["code"] == "model_name_taken"


# -- the profile decides ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("profile", [Sensitivity.RESTRICTED, Sensitivity.LOCAL_ONLY])
def test_profiles_that_keep_images_local_refuse_an_external_model(
        image_world: World, model_server: ModelServer, profile: Sensitivity) -> None:
    image_world.project.sensitivity = profile
    image_world.project.save()
    _register(image_world, model_server.url)

    response = api_for(image_world.users["owner"]).post(
        f"/projects/{image_world.project.pk}/inference", {"model": "cloud-detector"})
    run_jobs()

    assert response.status_code == 403
    assert response.json()["code"] == "external_model_forbidden"
    assert "only local models" in response.json()["detail"]
    assert model_server.received == []
    assert not Job.objects.filter(kind="inference").exists()
    refused = AuditEvent.objects.get(action="inference.refused")
    assert refused.project_id == image_world.project.pk


@pytest.mark.django_db(transaction=True)
def test_standard_sends_images_and_keeps_suggestions_apart_from_annotations(
        image_world: World, model_server: ModelServer) -> None:
    _standard_with_labels(image_world)
    _register(image_world, model_server.url)
    task = image_world.asset.task
    Annotation.objects.create(task=task, shapes=[{"id": "mine", "type": "tag", "label": "car"}],
                              updated_by=image_world.users["annotator"])

    started = api_for(image_world.users["owner"]).post(
        f"/projects/{image_world.project.pk}/inference", {"model": "cloud-detector"})
    assert started.status_code == 202, started.content
    run_jobs()

    job = Job.objects.get(pk=started.json()["job"])
    assert job.status == "succeeded", job.error
    assert job.result == {"predictions": 1, "failed": []}
    assert model_server.received == [{"path": "/v1/detect", "type": "image/jpeg",
                                      "bytes": image_world.asset.size}]
    items = api_for(image_world.users["annotator"]).get(
        f"/tasks/{task.pk}/predictions").json()["items"]
    assert items[0]["model"] == "cloud-detector"
    assert items[0]["runs"] == "external"
    assert items[0]["shapes"][0]["score"] == 0.91
    assert items[0]["shapes"][0]["label"] == "car"
    assert Annotation.objects.get(task=task).shapes == [
        {"id": "mine", "type": "tag", "label": "car"}]
    ran = AuditEvent.objects.get(action="inference.ran")
    assert json.loads(ran.details)["images"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_cut_short_goes_on_where_it_stopped(image_world: World,
                                                  model_server: ModelServer) -> None:
    from labelop.assets.ingest import ingest
    from labelop.assets.services import project_location
    from tests import images

    _standard_with_labels(image_world)
    _register(image_world, model_server.url)
    second = ingest(project=image_world.project, data=images.jpeg(seed=44), name="b.jpg",
                    location=project_location(image_world.project),
                    created_by=image_world.users["owner"], via="upload")
    started = api_for(image_world.users["owner"]).post(
        f"/projects/{image_world.project.pk}/inference", {"model": "cloud-detector"})
    job = Job.objects.get(pk=started.json()["job"])
    # What the first run made before its worker was killed: the first task's suggestions.
    Prediction.objects.create(task=image_world.asset.task, model="cloud-detector",
                              runs="external", shapes=[], job=job)

    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.result, job.done, job.total) == (
        "succeeded", {"predictions": 2, "failed": []}, 2, 2)
    assert model_server.received == [{"path": "/v1/detect", "type": "image/jpeg",
                                      "bytes": second.asset.size}]  # only the one left
    assert Prediction.objects.filter(job=job).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_tightened_policy_refuses_at_request_and_at_run_time(image_world: World,
                                                               model_server: ModelServer) -> None:
    project = image_world.project
    project.sensitivity = Sensitivity.STANDARD
    project.save()
    _register(image_world, model_server.url)
    owner = api_for(image_world.users["owner"])
    started = owner.post(f"/projects/{project.pk}/inference", {"model": "cloud-detector"})
    assert started.status_code == 202
    tightened = owner.call("PUT", f"/projects/{project.pk}/policy",
                           {"controls": {"external_models_allowed": False}})
    assert tightened.status_code == 200, tightened.content

    run_jobs()  # the job queued before the change

    job = Job.objects.get(pk=started.json()["job"])
    assert job.status == "failed"
    assert "keeps its images here" in job.error["message"]
    assert model_server.received == []
    assert AuditEvent.objects.get(action="inference.refused").target == f"job:{job.pk}"
    assert not AuditEvent.objects.filter(action="inference.ran").exists()
    again = owner.post(f"/projects/{project.pk}/inference", {"model": "cloud-detector"})
    assert again.json()["code"] == "external_model_forbidden"


@pytest.mark.django_db(transaction=True)
def test_redirects_are_never_followed(image_world: World, model_server: ModelServer,
                                      other_server: ModelServer) -> None:
    _standard_with_labels(image_world)
    model_server.redirect_to = other_server.url
    _register(image_world, model_server.url)

    started = api_for(image_world.users["owner"]).post(
        f"/projects/{image_world.project.pk}/inference", {"model": "cloud-detector"})
    run_jobs()

    job = Job.objects.get(pk=started.json()["job"])
    assert job.result["predictions"] == 0
    assert "redirect" in job.result["failed"][0]["message"]
    assert len(model_server.received) == 1
    assert other_server.received == []
    assert not Prediction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_answer_outside_the_image_or_schema_is_not_kept(image_world: World,
                                                           model_server: ModelServer) -> None:
    _standard_with_labels(image_world)
    model_server.answer = {"shapes": [{"type": "bbox", "label": "car", "x": 1e6, "y": 0,
                                       "w": 5, "h": 5}]}
    _register(image_world, model_server.url)

    started = api_for(image_world.users["owner"]).post(
        f"/projects/{image_world.project.pk}/inference", {"model": "cloud-detector"})
    run_jobs()

    job = Job.objects.get(pk=started.json()["job"])
    assert job.status == "succeeded"
    assert job.result["predictions"] == 0
    assert job.result["failed"][0]["task"] == image_world.asset.task.pk
    assert not Prediction.objects.exists()


def test_the_data_path_names_the_models_the_profile_allows_and_forbids(
        world: World, model_server: ModelServer) -> None:
    _register(world, model_server.url)
    owner = api_for(world.users["owner"])

    def processing() -> list[str]:
        sections = owner.get(f"/projects/{world.project.pk}/data-path").json()["sections"]
        return next(s for s in sections if s["title"] == "What may process them")["lines"]

    restricted = " ".join(processing())
    assert "No model may process" in restricted
    assert "forbids: cloud-detector (runs externally, at 127.0.0.1)" in restricted
    world.project.sensitivity = Sensitivity.STANDARD
    world.project.save()
    standard = " ".join(processing())
    assert "may process its images: cloud-detector (runs externally, at 127.0.0.1)" in standard
