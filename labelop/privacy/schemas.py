from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from labelop.core.schemas import In, Text
from labelop.privacy.models import QUESTIONS, OperatingNote
from labelop.projects.models import Sensitivity


class Question(Schema):
    field: str
    question: str
    hint: str


class NoteOut(Schema):
    version: int = Field(description="0 while the project has no note")
    sensitive_data: str
    processing_path: str
    reviewers: str
    escalation: str
    author: str | None
    created_at: datetime | None
    questions: list[Question]

    @staticmethod
    def of(note: OperatingNote | None) -> dict[str, Any]:
        questions = [{"field": f, "question": q, "hint": h} for f, q, h in QUESTIONS]
        if note is None:
            return {"version": 0, **dict.fromkeys((f for f, _, _ in QUESTIONS), ""),
                    "author": None, "created_at": None, "questions": questions}
        return {"version": note.version, **note.answers(), "author": note.author_name,
                "created_at": note.created_at, "questions": questions}


class NoteIn(In):
    sensitive_data: Text
    processing_path: Text
    reviewers: Text
    escalation: Text
    based_on: int | None = Field(None, description="The version you started from")


class ControlOut(Schema):
    name: str
    description: str
    value: bool | str
    profile_value: bool | str
    tightened: bool
    choices: list[bool | str]


class PolicyOut(Schema):
    sensitivity: Sensitivity
    controls: list[ControlOut]


class PolicyIn(In):
    sensitivity: Sensitivity | None = Field(None, description="Only towards the strict end")
    controls: dict[str, bool | str] = Field(default_factory=dict, max_length=20,
                                            description="Controls to tighten: name -> value")


class Section(Schema):
    title: str
    lines: list[str]


class DataPathOut(Schema):
    project: str
    sensitivity: Sensitivity
    sections: list[Section]
    markdown: str = Field(description="The same statement, to paste into a review document")


class CheckOut(Schema):
    name: str
    status: str = Field(description="pass | warn | fail")
    reason: str


class ReadinessOut(Schema):
    ready: bool = Field(description="No check fails")
    checks: list[CheckOut]


class AccessRow(Schema):
    username: str
    role: str
    active: bool
    tasks_visible: int
    images_visible: int
    last_activity: datetime | None = Field(description="Their newest audit event here")
    last_login: datetime | None
    images_viewed_30d: int = Field(description="Distinct images viewed in 30 days")


class AccessReportOut(Schema):
    items: list[AccessRow]


class ExceptionIn(In):
    action: str = Field(max_length=200, description="'profile:<profile>' or "
                                                    "'loosen:<control>=<value>'")
    reason: Text = Field(min_length=1)


class ExceptionOut(Schema):
    id: int
    action: str
    reason: str
    requested_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    expires_at: datetime
    used_at: datetime | None

    @staticmethod
    def of(e: Any) -> dict[str, Any]:
        return {"id": e.pk, "action": e.action, "reason": e.reason,
                "requested_by": e.requested_by.username if e.requested_by else None,
                "approved_by": e.approved_by.username if e.approved_by else None,
                "approved_at": e.approved_at, "expires_at": e.expires_at, "used_at": e.used_at}
