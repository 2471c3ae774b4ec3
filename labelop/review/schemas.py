from __future__ import annotations

from typing import Annotated

from ninja import Schema
from pydantic import Field, StringConstraints

from labelop.annotations.schemas import EscalationOut, TaskOut
from labelop.core.schemas import In, Text
from labelop.review.models import Decision

Rule = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                        pattern=r"^[^\x00-\x1f\x7f]+$")]


class ReviewIn(In):
    decision: Decision
    comment: Text = ""
    confirmations: list[Rule] = Field(default_factory=list, max_length=100,
                                      description="The redaction rules the reviewer checked")
    version: int | None = Field(None, description="The annotation version reviewed")


class ReviewOut(Schema):
    id: int
    task: int
    decision: Decision
    comment: str
    confirmations: list[str]
    version: int
    reviewer: str
    annotator: str | None
    state: str


class ReviewPage(Schema):
    items: list[TaskOut]
    next: str | None


class EscalationRow(EscalationOut):
    overdue: bool
    task_name: str


class EscalationPage(Schema):
    items: list[EscalationRow]
    next: str | None


class ReviewSettings(In):
    redaction_rules: list[Rule] = Field(default_factory=list, max_length=50)
    escalation_reasons: list[Rule] = Field(default_factory=list, max_length=50)
    escalation_overdue_hours: int = Field(48, ge=1, le=24 * 365)
    review_required: bool = True


class ReviewSettingsOut(Schema):
    redaction_rules: list[str]
    escalation_reasons: list[str]
    escalation_overdue_hours: int
    review_required: bool
    required_by_profile: bool


class QualityRow(Schema):
    annotator: str
    done: int
    accepted: int
    rework: int
    acceptance_rate: float | None
    median_minutes: float | None
    open_escalations: int


class QualityOut(Schema):
    items: list[QualityRow]
