"""Base classes for request and response schemas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from labelop.core.errors import Invalid


class In(BaseModel):
    """Request bodies refuse unknown fields: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


def form_fields_known(sent: Iterable[str], model: type[BaseModel], *files: str) -> None:
    """A multipart form refuses unknown fields as JSON bodies do (ninja's forms drop them):
    a mistyped `dry_run` must not run the real thing."""
    unknown = sorted(set(sent) - set(model.model_fields) - set(files))
    if unknown:
        raise Invalid(f"Unknown form field(s): {', '.join(unknown)}.", code="unknown_field",
                      fields=unknown)


class Created(Schema):
    id: int


# No control characters in names (PostgreSQL refuses NUL, terminals and logs misread the rest).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                        pattern=_PRINTABLE)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150,
                                            pattern=r"^[\w.@+-]+$")]
# Free text keeps tabs and line breaks, nothing else below U+0020.
Text = Annotated[str, StringConstraints(max_length=5000,
                                        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
# Database ids: positive and within a signed 64-bit integer.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
