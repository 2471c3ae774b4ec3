from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from labelop.core.schemas import In, Name, Text, Username
from labelop.permissions import Role
from labelop.projects.models import Sensitivity, Status

LabelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                             pattern=r"^[^\x00-\x1f\x7f]+$")]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


class LabelIn(In):
    name: LabelName
    kind: Literal["bbox", "polygon", "tag"] = "bbox"
    color: Colour = "#1f77b4"


class ProjectCreateIn(In):
    name: Name
    sensitivity: Sensitivity
    description: Text = ""
    labels: list[LabelIn] = Field(default_factory=list, max_length=500)


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
