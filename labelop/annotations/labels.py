"""A project's label schema: what shapes may be drawn, in which colours, with which attributes.
Redaction regions need no label: they are built in, with a method."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from labelop.core.schemas import In

LabelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                             pattern=r"^[^\x00-\x1f\x7f]+$")]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
LabelKind = Literal["bbox", "polygon", "tag"]
RedactionMethod = Literal["blur", "pixelate", "fill"]
REDACTION_METHODS: tuple[str, ...] = ("blur", "pixelate", "fill")
MAX_LABELS = 500


class AttributeIn(In):
    """A property every shape of the label may carry: text, a number, yes/no, or one of a list."""

    name: LabelName
    type: Literal["text", "number", "boolean", "choice"] = "text"
    options: list[LabelName] = Field(default_factory=list, max_length=100)
    required: bool = False

    @model_validator(mode="after")
    def _options_for_choices(self) -> AttributeIn:
        if self.type == "choice" and not self.options:
            raise ValueError(f"attribute {self.name!r} is a choice and needs options")
        if self.type != "choice" and self.options:
            raise ValueError(f"attribute {self.name!r} has options but is not a choice")
        return self


class LabelIn(In):
    name: LabelName
    kind: LabelKind = "bbox"
    color: Colour = "#1f77b4"
    attributes: list[AttributeIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _unique_attributes(self) -> LabelIn:
        names = [a.name for a in self.attributes]
        if len(names) != len(set(names)):
            raise ValueError(f"label {self.name!r} names an attribute twice")
        return self


class LabelSchemaIn(In):
    labels: list[LabelIn] = Field(max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _unique_names(self) -> LabelSchemaIn:
        seen: set[str] = set()
        for label in self.labels:
            folded = label.name.casefold()
            if folded in seen:
                raise ValueError(f"two labels are named {label.name!r}")
            seen.add(folded)
        return self


def by_name(labels: list[dict]) -> dict[str, dict]:
    return {label["name"]: label for label in labels}
