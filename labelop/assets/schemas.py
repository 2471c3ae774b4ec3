from __future__ import annotations

from ninja import Schema
from pydantic import Field

from labelop.core.schemas import In


class Created(Schema):
    asset: int
    task: int
    sha256: str
    name: str


class Rejection(Schema):
    code: str
    message: str


class Rejected(Schema):
    name: str
    error: Rejection


class UploadOut(Schema):
    created: list[Created]
    duplicates: list[Created]
    rejected: list[Rejected]


class ImportIn(In):
    folder: str | None = Field(None, max_length=4096,
                               description="A server folder inside LABELOP_IMPORT_ROOTS")
    location: str | None = Field(None, max_length=100, description="A storage location's name")
    prefix: str = Field("", max_length=500, description="Key prefix in that location")


class JobStarted(Schema):
    job: int
