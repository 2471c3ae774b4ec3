"""CSRF on the server-rendered forms (the API's own is in tests/accounts), and SSRF through
the one URL a site admin gives the server besides model endpoints: an S3 endpoint."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from labelop.audit.models import AuditEvent
from labelop.core.errors import Invalid
from labelop.projects.models import Sensitivity
from labelop.storage import services
from labelop.storage.models import Encryption, StorageLocation
from tests.conftest import PASSWORD, World


def _signed_in(username: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    answer = client.post("/api/v1/auth/login", json.dumps({
        "username": username, "password": PASSWORD}), content_type="application/json",
        headers={"X-CSRFToken": csrf})
    assert answer.status_code == 200, answer.content
    return client


def test_page_forms_refuse_a_post_without_its_csrf_token(world: World) -> None:
    world.project.sensitivity = Sensitivity.STANDARD  # a password alone may act here
    world.project.save()
    p = world.project.pk
    client = _signed_in("owner")
    events = AuditEvent.objects.count()

    for path, form in ((f"/projects/{p}/members", {"username": "outsider", "role": "annotator"}),
                       (f"/projects/{p}/members/annotator/remove", {}),
                       (f"/projects/{p}/activate", {}),
                       ("/tokens", {"name": "stolen"}),
                       ("/password", {"old_password": PASSWORD, "new_password1": "x" * 20,
                                      "new_password2": "x" * 20}),
                       ("/logout", {})):
        answer = client.post(path, form)
        assert answer.status_code == 403, path

    assert AuditEvent.objects.count() == events
    assert not world.project.memberships.filter(user__username="outsider").exists()
    assert world.project.memberships.filter(user__username="annotator").exists()
    assert client.get("/api/v1/me").status_code == 200  # still signed in: logout was refused
    assert Client(enforce_csrf_checks=True).post(
        "/login", {"username": "owner", "password": PASSWORD}).status_code == 403


@pytest.mark.parametrize("endpoint", [
    "http://169.254.169.254/latest",  # cloud metadata
    "http://[fe80::1]:9000",  # link-local
    "http://0.0.0.0:9000",
    "http://user:secret@minio.internal:9000",
    "file:///etc/passwd",
])
def test_an_s3_endpoint_where_no_storage_may_be_is_refused_before_any_request(
        db, endpoint: str) -> None:
    with pytest.raises(Invalid) as refused:
        services.location_create(actor=None, name="bucket", kind="s3", params={
            "endpoint_url": endpoint, "bucket": "b", "access_key_id": "a",
            "secret_access_key": "b"}, encryption=Encryption.SERVER)

    assert refused.value.code == "storage_endpoint_refused"
    assert not StorageLocation.objects.filter(name="bucket").exists()
