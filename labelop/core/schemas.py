"""Base classes for request and response schemas."""

from __future__ import annotations

from typing import Annotated

from ninja import Schema
from pydantic import ConfigDict, StringConstraints


class In(Schema):
    """Request bodies refuse unknown fields: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Created(Schema):
    id: int


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150,
                                            pattern=r"^[\w.@+-]+$")]
