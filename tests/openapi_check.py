"""Validate API responses against the committed openapi.json."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.json"


@cache
def spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


@cache
def _routes() -> list[tuple[re.Pattern, str, dict]]:
    routes = []
    for template, item in spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$")
        for method, operation in item.items():
            routes.append((pattern, method.upper(), operation))
    return routes


def operation_for(method: str, path: str) -> dict | None:
    for pattern, m, operation in _routes():
        if m == method.upper() and pattern.match(path):
            return operation
    return None


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Raise if a JSON response is undocumented or does not match its documented schema."""
    if not content_type.startswith("application/json") or not body:
        return
    operation = operation_for(method, path.split("?", 1)[0])
    assert operation is not None, f"{method} {path} is not in openapi.json"
    documented = operation["responses"].get(str(status))
    assert documented is not None, f"{method} {path} answered {status}, not documented"
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    if schema:
        jsonschema.validate(json.loads(body), {**schema, "components": spec()["components"]},
                            cls=jsonschema.Draft202012Validator)
