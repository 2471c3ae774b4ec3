from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field, model_validator

from labelop.annotations.labels import MAX_LABELS, LabelIn, LabelSchemaIn
from labelop.core.schemas import In, Name, Text, Username
from labelop.permissions import Role
from labelop.projects.models import Sensitivity, Status


class ProjectCreateIn(In):
    name: Name
    sensitivity: Sensitivity
    description: Text = ""
    labels: list[LabelIn] = Field(default_factory=list, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _unique_labels(self) -> ProjectCreateIn:
        LabelSchemaIn(labels=self.labels)
        return self


class ProjectUpdateIn(In):
    name: Name | None = None
    description: Text | None = None
    sensitivity: Sensitivity | None = None


class ProjectOut(Schema):
    id: int
    name: str
    description: str
    sensitivity: Sensitivity
    status: Status
    labels: list[dict]
    created_at: datetime
    my_role: Role | None = None


class ProjectPage(Schema):
    items: list[ProjectOut]
    next: str | None


class MemberIn(In):
    username: Username
    role: Role


class MemberUpdateIn(In):
    role: Role


class MemberOut(Schema):
    username: str = Field(validation_alias="user.username")
    role: Role
    added_at: datetime


class MemberPage(Schema):
    items: list[MemberOut]
    next: str | None
