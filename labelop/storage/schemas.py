from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field

from labelop.core.schemas import In, Name
from labelop.storage.models import Encryption


class LocationIn(In):
    name: Name
    kind: str = Field(description="local or s3")
    params: dict[str, Any] = Field(description="local: path. s3: endpoint_url, bucket, prefix, "
                                   "region, access_key_id, secret_access_key")
    encryption: Encryption = Encryption.SERVER
    customer_key_source: str = Field("", max_length=500,
                                     description="customer mode: env:VARIABLE or file:/path")
    default: bool = False


class LocationOut(Schema):
    id: int
    name: str
    kind: str
    where: str
    encryption: Encryption
    key_holder: str
    default: bool


class RotateIn(In):
    customer_key_source: str | None = Field(None, max_length=500)


class RotateOut(Schema):
    rewrapped: int


class ProjectStorageIn(In):
    location: Name


class ReportRow(Schema):
    name: str
    kind: str
    where: str
    encryption: str
    key_holder: str
    images: int
    objects: int
    bytes: int
    current: bool


class StorageReportOut(Schema):
    current: str
    locations: list[ReportRow]
