"""Shared fixtures: real database (SQLite file or PostgreSQL), real objects, API clients."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from django.db import connection, connections
from django.test import Client

from labelop.accounts.models import User
from labelop.accounts.services import token_create
from labelop.audit.chain import GENESIS
from labelop.audit.models import ChainHead
from labelop.core import append_only
from labelop.permissions import Actor, Role
from labelop.projects.models import Membership, Project, Sensitivity
from tests.model_server import ModelServer, serve
from tests.openapi_check import check_response

T = TypeVar("T")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server on loopback: LABELOP_TEST_S3_URL, else moto's server."""
    if os.environ.get("LABELOP_TEST_S3_URL"):
        yield os.environ["LABELOP_TEST_S3_URL"]
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1",
         "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint: str) -> dict[str, str]:
    """A fresh bucket and the parameters of an S3 location that uses it."""
    import boto3

    key = os.environ.get("LABELOP_TEST_S3_KEY", "testing")  # MinIO & co: real credentials
    secret = os.environ.get("LABELOP_TEST_S3_SECRET", "testing")
    params = {"endpoint_url": s3_endpoint, "bucket": f"lop-{uuid.uuid4().hex[:12]}",
              "region": "us-east-1", "access_key_id": key, "secret_access_key": secret}
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                 aws_access_key_id=key, aws_secret_access_key=secret).create_bucket(
        Bucket=params["bucket"])
    return params


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    yield from serve(ModelServer())


@pytest.fixture
def other_server() -> Iterator[ModelServer]:
    yield from serve(ModelServer())


@pytest.fixture
def data_dir(settings, tmp_path):
    """A data dir of the test's own: its own instance key and local objects."""
    from labelop.storage import services as storage_services

    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    storage_services._backends.clear()
    return settings.DATA_DIR


def _wants_transaction(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return ("transactional_db" in request.fixturenames or "live_server" in request.fixturenames
            or bool(marker and marker.kwargs.get("transaction")))


@pytest.fixture(autouse=True)
def _append_only_triggers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Keep the append-only triggers in place for every test, and lift them only for the
    moment a transactional test's database is emptied (flush would otherwise be refused)."""
    if not (request.node.get_closest_marker("django_db") or "db" in request.fixturenames
            or _wants_transaction(request)):
        yield
        return
    transactional = _wants_transaction(request)
    request.getfixturevalue("transactional_db" if transactional else "db")
    for table in append_only.APPEND_ONLY_TABLES:
        append_only.install(connection, table, append_only.MUTABLE_WHILE.get(table))
    ChainHead.objects.get_or_create(id=1, defaults={"seq": 0, "hash": GENESIS})  # after a flush
    yield
    if transactional:
        for table in append_only.APPEND_ONLY_TABLES:
            append_only.uninstall(connection, table)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: object) -> None:
    # Argon2 is the production hasher (tests/accounts check it); tests that do not look at
    # hashes use a fast one so that hundreds of accounts cost milliseconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


PASSWORD = "correct horse battery staple"


def make_user(username: str, *, site_admin: bool = False, password: str = PASSWORD) -> User:
    user = User(username=username, is_superuser=site_admin, is_staff=site_admin)
    user.set_password(password)
    user.save()
    return user


@dataclass
class World:
    """One project with a person in each role, plus an outsider and a site admin."""

    project: Project
    other_project: Project
    users: dict[str, User]
    asset: object = None
    job: object = None
    import_root: object = None
    tasks: list = field(default_factory=list)

    def actor(self, who: str, *, second_factor: bool = True) -> Actor:
        """The person acting as if signed in with their second factor (the world's project
        is `restricted`, which requires one), unless the test says otherwise."""
        return Actor(user=self.users[who], second_factor=second_factor)


WHO = ("owner", "reviewer", "annotator", "outsider", "site_admin")


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def build_world() -> World:
    users = {who: make_user(who, site_admin=(who == "site_admin")) for who in WHO}
    users["target"] = make_user("target")
    project = Project.objects.create(name="Scans", sensitivity=Sensitivity.RESTRICTED,
                                     created_by=users["owner"])
    for who, role in (("owner", Role.OWNER), ("reviewer", Role.REVIEWER),
                      ("annotator", Role.ANNOTATOR), ("target", Role.ANNOTATOR)):
        Membership.objects.create(project=project, user=users[who], role=role)
    other = Project.objects.create(name="Other team", sensitivity=Sensitivity.STANDARD,
                                   created_by=users["outsider"])
    Membership.objects.create(project=other, user=users["outsider"], role=Role.OWNER)
    return World(project=project, other_project=other, users=users)


@pytest.fixture
def image_world(world: World, data_dir, settings, tmp_path) -> World:
    """The world with one image (its task assigned to the annotator), a finished import job
    and an import root holding one more image."""
    from labelop.annotations.models import Task, TaskState
    from labelop.assets.ingest import ingest
    from labelop.assets.services import project_location
    from labelop.jobs.models import Job, JobStatus
    from tests import images

    ingested = ingest(project=world.project, location=project_location(world.project),
                      data=images.jpeg(seed=42), name="scan.jpg", created_by=world.users["owner"],
                      via="upload")
    Task.objects.filter(pk=ingested.task.pk).update(assignee=world.users["annotator"],
                                                     state=TaskState.ASSIGNED)
    world.asset = ingested.asset
    world.job = Job.objects.create(kind="import", project=world.project, status=JobStatus.SUCCEEDED,
                                   created_by=world.users["owner"])
    root = tmp_path / "imports"
    root.mkdir()
    (root / "more.jpg").write_bytes(images.jpeg(seed=43))
    settings.LABELOP_IMPORT_ROOTS = (root.resolve(),)
    world.import_root = root
    return world


class Api:
    """A JSON client for /api/v1 authenticating with a bearer token (or anonymous)."""

    def __init__(self, token: str | None = None, client: Client | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else dict(headers or {})

    def call(self, method: str, path: str, body: object = None, **extra: str):
        kwargs: dict = {"headers": {**self.headers, **extra}}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        response = getattr(self.client, method.lower())(f"/api/v1{path}", **kwargs)
        # Every JSON answer the tests see must match the committed openapi.json.
        if not response.streaming:
            check_response(method, f"/api/v1{path}", response.status_code,
                           response.get("Content-Type", ""), response.content)
        return response

    def get(self, path: str, **kw: str):
        return self.call("GET", path, **kw)

    def post(self, path: str, body: object = None, **kw: str):
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: object = None, **kw: str):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: str):
        return self.call("DELETE", path, **kw)


def _recovery_device(user: User):
    from django_otp.plugins.otp_static.models import StaticDevice

    return StaticDevice.objects.get_or_create(user=user, name="recovery codes")[0]


def recovery_code(user: User) -> str:
    """A fresh single-use recovery code for `user`: a real second factor at sign-in."""
    from django_otp.plugins.otp_static.models import StaticToken

    code = StaticToken.random_token()
    _recovery_device(user).token_set.create(token=code)
    return code


def elsewhere(work: Callable[[], T]) -> T:
    """`work`'s result, done on a connection of its own (another thread), as another
    person's request would; its error is raised here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_closing, work).result()


def _closing(work: Callable[[], T]) -> T:
    try:
        return work()
    finally:
        connections.close_all()


def run_jobs() -> None:
    """Run every queued background job to the end, as a job worker would."""
    from django.core.management import call_command

    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0)


def api_for(user: User | None, project: Project | None = None, *,
            second_factor: bool = True) -> Api:
    """A token client; the token made in a session signed in with a second factor unless
    `second_factor=False`."""
    if user is None:
        return Api()
    _, raw = token_create(actor=Actor(user=user, second_factor=second_factor), name="test",
                          project_id=project.pk if project else None)
    return Api(raw)


def session_api(user: User, *, second_factor: bool = True) -> Api:
    """A browser-like client: session cookie, CSRF enforced and sent; signed in with a
    confirmed authenticator (as django-otp marks a session) unless `second_factor=False`."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    if second_factor:
        from django_otp import DEVICE_ID_SESSION_KEY

        session = client.session
        session[DEVICE_ID_SESSION_KEY] = _recovery_device(user).persistent_id
        session.save()
    csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]
    return Api(client=client, headers={"X-CSRFToken": csrf})


@pytest.fixture
def labeled(world: World, data_dir) -> World:
    """The world with the label schema of tests/labeling.py and 3 tasks, the first assigned
    to the annotator."""
    from tests.labeling import LABELS, assign, make_tasks

    world.project.labels = LABELS
    world.project.save(update_fields=["labels"])
    world.tasks = make_tasks(world.project, 3, created_by=world.users["owner"])
    assign(world.tasks[0], world.users["annotator"])
    return world

