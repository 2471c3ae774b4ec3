from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from ninja import Schema
from pydantic import Field, StringConstraints

from labelop.annotations.services import MAX_ASSIGN
from labelop.core.schemas import Id, In

ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class ExternalModelIn(In):
    name: ModelName
    url: Annotated[str, StringConstraints(min_length=8, max_length=500)]
    version: Annotated[str, StringConstraints(max_length=64)] = ""
    labels: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = []
    # Only for a model server on the internal network: lifts the private-address refusal.
    allow_private_network: bool = False


class ModelOut(Schema):
    name: str
    version: str
    kind: str  # what it finds: "faces", "text regions", "objects", "tags"
    runs: str  # "local": inside this deployment; "external": images are sent to `host`
    host: str | None  # where an external model runs (its full URL stays with the site admin)
    weights_sha256: str
    runtime: str  # what runs it: onnxruntime on this server's CPU, or "HTTP" elsewhere
    labels: list[str]

    @staticmethod
    def of(endpoint: Any) -> dict:
        return {"name": endpoint.name, "version": endpoint.version,
                "kind": endpoint.kind,
                "runs": endpoint.runs, "host": urlsplit(endpoint.url).hostname,
                "weights_sha256": endpoint.weights_sha256,
                "runtime": endpoint.runtime, "labels": list(endpoint.labels)}


class ModelPage(Schema):
    items: list[ModelOut]
    next: str | None


class InferenceIn(In):
    model: ModelName
    # Without ids: every task of the project.
    task_ids: list[Id] | None = Field(None, min_length=1, max_length=MAX_ASSIGN)
    # Only lines of text read as this shape: `A` letter, `9` digit, `?` any, `*` any run
    # ("AA-999-AA": licence plates). For models that read text.
    text_pattern: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class JobsStarted(Schema):
    job: int  # the first; `jobs` holds one per model
    jobs: list[int]


class PredictionOut(Schema):
    id: int
    model: str
    version: str
    runs: str
    weights_sha256: str
    shapes: list[dict[str, Any]]  # the annotation format, each with a `score`
    created_at: datetime


class PredictionPage(Schema):
    items: list[PredictionOut]
    next: str | None
