from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema
from pydantic import Field

from labelop.core.schemas import In, Text
from labelop.privacy.models import QUESTIONS, OperatingNote


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
