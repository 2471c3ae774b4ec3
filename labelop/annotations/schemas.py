from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StringConstraints, model_validator

from labelop.annotations.labels import LabelKind
from labelop.annotations.models import Escalation, Task, TaskState
from labelop.annotations.services import MAX_ASSIGN
from labelop.annotations.shapes import Shape
from labelop.core.schemas import Id, In, Text, Username


class AttributeOut(Schema):
    name: str
    type: str
    options: list[str] = []
    required: bool = False


class LabelOut(Schema):
    name: str
    kind: LabelKind
    color: str
    attributes: list[AttributeOut] = []


class LabelsOut(Schema):
    labels: list[LabelOut]
    redaction_methods: list[str]
    max_shapes: int


class TaskOut(Schema):
    id: int
    project: int
    asset: int
    name: str
    state: TaskState
    assignee: str | None
    version: int
    shape_count: int
    width: int
    height: int
    orientation: int
    updated_at: datetime

    @staticmethod
    def of(task: Task) -> dict[str, Any]:
        asset = task.asset
        return {"id": task.pk, "project": task.project_id, "asset": asset.pk,
                "name": asset.original_name, "state": task.state,
                "assignee": task.assignee.username if task.assignee else None,
                "version": task.version, "shape_count": task.shape_count,
                "width": asset.width, "height": asset.height,
                "orientation": asset.orientation, "updated_at": task.updated_at}


class TaskPage(Schema):
    items: list[TaskOut]
    next: str | None


class NextTaskOut(Schema):
    task: TaskOut | None


class AssignIn(In):
    annotator: Username | None = Field(None, description="One member to assign to")
    annotators: list[Username] | None = Field(None, max_length=200,
                                              description="Several members, dealt in turn")
    task_ids: list[Id] | None = Field(None, max_length=MAX_ASSIGN)
    count: Annotated[int, Field(ge=1, le=MAX_ASSIGN)] | None = Field(
        None, description="Take this many unassigned tasks, oldest first")

    @model_validator(mode="after")
    def _who(self) -> AssignIn:
        if (self.annotator is None) == (self.annotators is None):
            raise ValueError("give either annotator or annotators")
        if self.annotators is not None and not self.annotators:
            raise ValueError("annotators is empty")
        if (self.task_ids is None) == (self.count is None):
            raise ValueError("give either task_ids or count")
        return self

    @property
    def people(self) -> list[str]:
        return [self.annotator] if self.annotator else list(self.annotators or [])


class AssignOut(Schema):
    assigned: int
    tasks: dict[str, list[int]] = Field(description="task ids by assignee")


class UnassignIn(In):
    task_ids: list[Id] = Field(min_length=1, max_length=MAX_ASSIGN)


class UnassignOut(Schema):
    unassigned: int


class ProgressRow(Schema):
    assignee: str | None
    total: int
    new: int
    assigned: int
    submitted: int
    accepted: int
    rejected: int
    escalated: int


class ProgressOut(Schema):
    items: list[ProgressRow]


class AnnotationOut(Schema):
    version: int
    shapes: list[dict]
    updated_at: datetime | None
    updated_by: str | None
    state: TaskState | None = None


class AnnotationIn(In):
    shapes: list[Shape] = Field(max_length=100_000)


class RevisionOut(Schema):
    version: int
    author: str
    created_at: datetime
    shapes: int
    added: list[dict]
    removed: list[dict]
    changed: list[dict]


class HistoryPage(Schema):
    items: list[RevisionOut]
    next: str | None


class SubmitIn(In):
    version: int | None = Field(None, description="The version the submitter has seen")


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000,
                                          pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]


class EscalateIn(In):
    reason: Reason = Field(description="One of the project's escalation reasons")
    note: Text = ""


class EscalationOut(Schema):
    id: int
    task: int
    reason: str
    note: str
    raised_by: str | None
    previous_state: TaskState
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str

    @staticmethod
    def of(e: Escalation) -> dict[str, Any]:
        return {"id": e.pk, "task": e.task_id, "reason": e.reason, "note": e.note,
                "raised_by": e.raised_by.username if e.raised_by else None,
                "previous_state": e.previous_state, "created_at": e.created_at,
                "resolved_at": e.resolved_at,
                "resolved_by": e.resolved_by.username if e.resolved_by else None,
                "resolution": e.resolution}


class ResolveIn(In):
    resolution: Reason
